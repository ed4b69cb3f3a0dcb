"""Daily risk guardrails: a drawdown stop and a profit lock per UTC day.

Each exchange account's day starts with the first equity observed on that UTC day (the
sync job looks at 00:00 and then regularly; a signal's planning also observes). Once the
equity falls `drawdown_stop_perc` % below that start, or rises `profit_lock_perc` % above
it, the guardrail trips: no new entries on that account for the rest of the UTC day.
Closes are never blocked, so a copied position can always be closed. The day ends at
00:00 UTC; the next observation starts a fresh day.
"""

import enum
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal

from mimic.domain.errors import InvalidField

MAX_GUARDRAIL_PERC = Decimal(100)
_TWO_PLACES = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class GuardrailSettings:
    """A follower's daily limits; None switches one off."""

    drawdown_stop_perc: Decimal | None = None
    close_all_on_drawdown: bool = False
    profit_lock_perc: Decimal | None = None

    @property
    def enabled(self) -> bool:
        return self.drawdown_stop_perc is not None or self.profit_lock_perc is not None

    def validate(self) -> None:
        for name in ("drawdown_stop_perc", "profit_lock_perc"):
            value: Decimal | None = getattr(self, name)
            if value is not None and (
                not value.is_finite() or value <= 0 or value > MAX_GUARDRAIL_PERC
            ):
                raise InvalidField(name, f"must be greater than 0 and at most {MAX_GUARDRAIL_PERC}")


class TripKind(enum.StrEnum):
    DRAWDOWN_STOP = "drawdown_stop"
    PROFIT_LOCK = "profit_lock"


@dataclass(frozen=True, slots=True)
class Trip:
    kind: TripKind
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class GuardrailDay:
    """One account's UTC day: its starting equity and, once tripped, why."""

    account_id: str
    day: date
    start_equity: Decimal
    trip: Trip | None = None


def utc_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("guardrail days need a timezone-aware datetime")
    return moment.astimezone(UTC).date()


def observe(
    settings: GuardrailSettings,
    previous: GuardrailDay | None,
    *,
    account_id: str,
    equity: Decimal,
    now: datetime,
) -> GuardrailDay:
    """The account's day after seeing `equity` at `now`.

    A stored day from an earlier date is over: the first equity seen today starts a new one.
    A trip holds until the day ends, whatever the equity does meanwhile.
    """
    today = utc_day(now)
    if previous is None or previous.day != today:
        return GuardrailDay(account_id=account_id, day=today, start_equity=equity)
    if previous.trip is not None or previous.start_equity <= 0:
        return previous
    start = previous.start_equity
    change = (equity - start) / start * 100
    drawdown = settings.drawdown_stop_perc
    if drawdown is not None and change <= -drawdown:
        reason = (
            f"daily drawdown stop: equity {_money(equity)} is {_perc(-change)}% below "
            f"today's start {_money(start)} (limit {drawdown}%); no new entries until "
            "00:00 UTC"
        )
        return replace(previous, trip=Trip(TripKind.DRAWDOWN_STOP, reason, now))
    lock = settings.profit_lock_perc
    if lock is not None and change >= lock:
        reason = (
            f"daily profit lock: equity {_money(equity)} is {_perc(change)}% above "
            f"today's start {_money(start)} (target {lock}%); no new entries until 00:00 UTC"
        )
        return replace(previous, trip=Trip(TripKind.PROFIT_LOCK, reason, now))
    return previous


def entry_block(day: GuardrailDay | None, now: datetime) -> str | None:
    """Why a new entry is refused at `now`, or None when entries are allowed."""
    if day is None or day.trip is None or day.day != utc_day(now):
        return None
    return day.trip.reason


def newly_tripped(before: GuardrailDay | None, after: GuardrailDay) -> Trip | None:
    """The trip that `after` adds to `before` (same day), if any."""
    if after.trip is None:
        return None
    if before is not None and before.day == after.day and before.trip is not None:
        return None
    return after.trip


def _money(value: Decimal) -> str:
    return f"{value.quantize(_TWO_PLACES):,}"


def _perc(value: Decimal) -> str:
    return f"{value.quantize(_TWO_PLACES)}"


def guardrail_trip_key(day: date) -> str:
    """What a close-all order carries in place of a signal id (and its client id is made of)."""
    return f"guardrail:{day.isoformat()}"
