"""The admin console's overview of recent activity: signals per hour and what failed."""

from dataclasses import dataclass

from mimic.domain.activity import (
    CopyingCounts,
    ErrorKind,
    FailedDelivery,
    HourCount,
    PlatformError,
    last_hours,
)
from mimic.domain.orders import OrderIntent
from mimic.ports.repositories import PlatformActivity
from mimic.ports.services import Clock

HOURS_SHOWN = 24
RECENT_ERRORS = 20


@dataclass(frozen=True, slots=True)
class ActivityOverview:
    copying: CopyingCounts
    signals_per_hour: list[HourCount]
    errors: list[PlatformError]  # newest first

    @property
    def signals_total(self) -> int:
        return sum(h.signals for h in self.signals_per_hour)

    @property
    def busiest_hour(self) -> int:
        return max((h.signals for h in self.signals_per_hour), default=0)


class ViewPlatformActivity:
    def __init__(self, activity: PlatformActivity, clock: Clock) -> None:
        self._activity = activity
        self._clock = clock

    async def __call__(self) -> ActivityOverview:
        hours = last_hours(self._clock.now(), HOURS_SHOWN)
        counts = await self._activity.signals_per_hour(hours)
        since = hours[0]
        rejected = await self._activity.rejected_orders(since=since, limit=RECENT_ERRORS)
        failed = await self._activity.failed_deliveries(limit=RECENT_ERRORS)
        errors = [_rejected(o) for o in rejected] + [_failed(d) for d in failed]
        errors.sort(key=lambda e: e.at, reverse=True)
        return ActivityOverview(
            await self._activity.copying(),
            [HourCount(hour, count) for hour, count in zip(hours, counts, strict=True)],
            errors[:RECENT_ERRORS],
        )


def _rejected(order: OrderIntent) -> PlatformError:
    return PlatformError(
        at=order.updated_at or order.created_at,
        kind=ErrorKind.ORDER_REJECTED,
        user_id=order.user_id,
        what=f"{order.leg.value} {order.side.value} {order.symbol}",
        reason=order.reason or "rejected",
        signal_id=order.signal_id,
    )


def _failed(delivery: FailedDelivery) -> PlatformError:
    return PlatformError(
        at=delivery.created_at,
        kind=ErrorKind.DELIVERY_FAILED,
        user_id=delivery.user_id,
        what=f"{delivery.event} ({delivery.attempts} attempts so far)",
        reason=delivery.error,
    )
