"""What the admin console's overview shows of the platform's recent activity."""

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class HourCount:
    """Signals received in the hour that starts at `hour` (UTC)."""

    hour: datetime
    signals: int


def last_hours(now: datetime, hours: int) -> list[datetime]:
    """The starts of the last `hours` UTC hours up to the current one, oldest first."""
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [current - (hours - 1 - i) * HOUR for i in range(hours)]


@dataclass(frozen=True, slots=True)
class CopyingCounts:
    """Who signals are copied to: approved, enabled connections of active followers who did
    not pause their copying (the platform's own pause aside)."""

    followers: int
    accounts: int


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """A notification not delivered yet whose last attempt failed: it is being retried."""

    notification_id: str
    user_id: str
    event: str
    attempts: int
    error: str
    created_at: datetime


class ErrorKind(enum.StrEnum):
    ORDER_REJECTED = "order rejected"
    DELIVERY_FAILED = "notification failed"


@dataclass(frozen=True, slots=True)
class PlatformError:
    """One line of the overview's recent errors, newest first: what failed, for whom, why.
    `signal_id` links a rejected order to its signal's report (None for monitor orders)."""

    at: datetime
    kind: ErrorKind
    user_id: str
    what: str
    reason: str
    signal_id: str | None = None
