"""The admin overview: signals per UTC hour over the last day, and the latest errors."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from mimic.application.platform_activity import RECENT_ERRORS, ViewPlatformActivity
from mimic.domain.activity import ErrorKind, FailedDelivery, last_hours
from mimic.domain.orders import OrderIntent, OrderLeg, OrderSide
from tests.fakes.repositories.activity import InMemoryPlatformActivity
from tests.fakes.services import FixedClock

NOW = datetime(2026, 12, 4, 13, 20, tzinfo=UTC)


def order(n: int, *, rejected: bool, at: datetime) -> OrderIntent:
    intent = OrderIntent(
        id=f"o{n:03d}",
        signal_id=f"s{n:03d}",
        account_id="acct",
        user_id="ann",
        leg=OrderLeg.ENTRY,
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        quantity=Decimal("0.01"),
        reduce_only=False,
        leverage=5,
        client_order_id=f"mimic-{n:03d}",
        created_at=at,
    )
    if rejected:
        intent.reject("insufficient margin", at + timedelta(seconds=1))
    return intent


def test_the_last_hours_end_with_the_current_one() -> None:
    hours = last_hours(NOW, 24)
    assert len(hours) == 24
    assert hours[-1] == datetime(2026, 12, 4, 13, tzinfo=UTC)
    assert hours[0] == datetime(2026, 12, 3, 14, tzinfo=UTC)


async def test_signals_are_counted_in_their_hour_and_quiet_hours_read_zero() -> None:
    activity = InMemoryPlatformActivity()
    activity.signals_received = [
        datetime(2026, 12, 4, 13, 0, tzinfo=UTC),
        datetime(2026, 12, 4, 12, 59, 59, tzinfo=UTC),
        datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
        datetime(2026, 12, 3, 13, 59, tzinfo=UTC),  # 24 hours ago and more: not shown
    ]
    overview = await ViewPlatformActivity(activity, FixedClock(NOW))()
    counts = {h.hour.hour: h.signals for h in overview.signals_per_hour}
    assert (counts[13], counts[12], counts[11]) == (1, 2, 0)
    assert (overview.signals_total, overview.busiest_hour) == (3, 2)


async def test_errors_are_rejected_orders_and_failing_notifications_newest_first() -> None:
    activity = InMemoryPlatformActivity()
    activity.orders = [
        order(1, rejected=True, at=NOW - timedelta(minutes=30)),
        order(2, rejected=False, at=NOW - timedelta(minutes=20)),
        order(3, rejected=True, at=NOW - timedelta(days=2)),  # older than the day shown
    ]
    activity.failing = [
        FailedDelivery(
            "n1", "bob", "order.rejected", 3, "smtp: 421 try later", NOW - timedelta(minutes=10)
        )
    ]
    overview = await ViewPlatformActivity(activity, FixedClock(NOW))()
    assert [(e.kind, e.user_id, e.what, e.reason, e.signal_id) for e in overview.errors] == [
        (
            ErrorKind.DELIVERY_FAILED,
            "bob",
            "order.rejected (3 attempts so far)",
            "smtp: 421 try later",
            None,
        ),
        (ErrorKind.ORDER_REJECTED, "ann", "entry buy BTCUSDT", "insufficient margin", "s001"),
    ]


async def test_no_more_errors_than_a_page_shows() -> None:
    activity = InMemoryPlatformActivity()
    activity.orders = [
        order(n, rejected=True, at=NOW - timedelta(minutes=n)) for n in range(RECENT_ERRORS + 5)
    ]
    overview = await ViewPlatformActivity(activity, FixedClock(NOW))()
    assert len(overview.errors) == RECENT_ERRORS
    assert overview.errors[0].signal_id == "s000"
