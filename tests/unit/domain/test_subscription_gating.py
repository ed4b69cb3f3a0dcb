"""The fan-out skips entries of followers without a subscription when one is required."""

from datetime import timedelta
from decimal import Decimal

from mimic.domain.orders import OrderLeg, OrderSide
from mimic.domain.payments import PaymentSettings, Subscription
from mimic.domain.positions import PositionSide
from mimic.domain.signal import SignalAction
from tests.unit.application.test_execute_signal import World

D = Decimal
REASON = "no active subscription"


async def subscribe(world: World, user_id: str, days: int = 30) -> None:
    now = world.clock.now()
    await world.subscriptions.put(
        Subscription(user_id, "plan", "Basic", now, now + timedelta(days=days))
    )


def require(world: World) -> None:
    world.payment_settings.settings = PaymentSettings(require_subscription=True)


async def test_unsubscribed_followers_are_skipped_when_required() -> None:
    world = World()
    require(world)
    paying = await world.follower("paying")
    lapsed = await world.follower("lapsed")
    never = await world.follower("never")
    await subscribe(world, paying.user.id)
    await subscribe(world, lapsed.user.id, days=1)
    world.clock.advance(timedelta(days=1))  # lapsed expires exactly now
    signal = await world.signal(SignalAction.LONG)

    await world.run(signal)

    assert await world.outcome(signal, paying) == [("filled", None)]
    assert await world.outcome(signal, lapsed) == [("skipped", REASON)]
    assert await world.outcome(signal, never) == [("skipped", REASON)]
    assert lapsed.exchange.placed == never.exchange.placed == []


async def test_nobody_is_gated_while_subscriptions_are_not_required() -> None:
    world = World()
    free = await world.follower("free")
    signal = await world.signal(SignalAction.LONG)
    await world.run(signal)
    assert await world.outcome(signal, free) == [("filled", None)]


async def test_closes_go_through_without_a_subscription() -> None:
    world = World()
    require(world)
    holder = await world.follower("holder")
    flipper = await world.follower("flipper")
    holder.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.01"))
    flipper.exchange.set_position("BTCUSDT", PositionSide.SHORT, D("0.01"))

    flip = await world.signal(SignalAction.LONG)
    await world.run(flip)
    # The flip closes the short copying opened but opens nothing new.
    assert await world.outcome(flip, flipper) == [("filled", None), ("skipped", REASON)]
    assert flipper.exchange.placed == [
        flipper.order(flip, OrderSide.BUY, "0.01", leg=OrderLeg.CLOSE, reduce_only=True)
    ]
    assert "BTCUSDT" not in flipper.exchange.positions

    close = await world.signal(SignalAction.CLOSE)
    await world.run(close)
    assert await world.outcome(close, holder) == [("filled", None)]
    assert "BTCUSDT" not in holder.exchange.positions
