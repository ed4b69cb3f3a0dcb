"""Per-user quotas: how much one account may create, so one account cannot flood the
payment provider, the exchanges or the admins' inbox."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mimic.domain.errors import TooManyRequests

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Quotas:
    invoices_per_hour: int = 10
    messages_per_hour: int = 60  # admins answer without a quota
    exchange_connections: int = 10  # held at once; deleting one frees its place

    def __post_init__(self) -> None:
        for name in ("invoices_per_hour", "messages_per_hour", "exchange_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"the {name} quota must be at least 1")


def check_hourly_quota(
    what: str, newest_first: Sequence[datetime], quota: int, now: datetime
) -> None:
    """`newest_first`: when the user's latest items were created (at least `quota` of them,
    when there are). Raises with the seconds until the oldest counted one is an hour old."""
    if len(newest_first) < quota:
        return
    frees_at = newest_first[quota - 1] + HOUR
    if frees_at <= now:
        return
    wait = max(1, math.ceil((frees_at - now).total_seconds()))
    raise TooManyRequests(f"at most {quota} {what} per hour; try again in {wait} s", wait)
