"""TP/SL placed right after a signal's entry fills, and removed by a close.

BTCUSDT is marked at 65,000 (tick 0.1): a 1 % stop is 64,350, a 2 % take-profit 66,300.
"""

from decimal import Decimal

import pytest

from mimic.domain.errors import ExchangeUnavailable
from mimic.domain.orders import IntentStatus, OrderLeg
from mimic.domain.positions import PositionSide
from mimic.domain.protection import ProtectionSettings, protective_prefix
from mimic.domain.signal import Signal, SignalAction, SignalParams
from tests.fakes.exchange import FakeExchange
from tests.unit.application.test_execute_signal import Follower, World

D = Decimal


@pytest.fixture
def world() -> World:
    return World()


async def signal_with(
    world: World,
    action: SignalAction = SignalAction.LONG,
    *,
    tp: str | None = None,
    sl: str | None = None,
    name: str = "s",
) -> Signal:
    signal = Signal(
        id=f"signal-{name}",
        source_id="master",
        params=SignalParams(
            symbol="BTCUSDT",
            action=action,
            tp_perc=None if tp is None else D(tp),
            sl_perc=None if sl is None else D(sl),
        ),
        dedupe_key=f"id:{name}",
        received_at=world.clock.now(),
    )
    stored, _ = await world.signals.add_unless_duplicate(signal, expiring_after=world.clock.now())
    return stored


async def with_protection(world: World, follower: Follower, settings: ProtectionSettings) -> None:
    user = await world.users.get(follower.user.id)
    assert user is not None
    user.protection = settings
    await world.users.save(user)


async def test_entry_with_tp_and_sl_is_protected_on_the_exchange(world: World) -> None:
    alice = await world.follower("alice")
    signal = await signal_with(world, tp="2", sl="1")
    await world.run(signal)
    [entry] = await world.legs(signal, alice)
    assert entry.status is IntentStatus.FILLED
    prefix = protective_prefix(entry.client_order_id)
    assert alice.exchange.protective["BTCUSDT"] == [
        (prefix + "sl", D("64350.0")),
        (prefix + "tp", D("66300.0")),
    ]
    assert (entry.stop_loss_price, entry.take_profit_price) == (D("64350.0"), D("66300.0"))
    assert (entry.tp_perc, entry.sl_perc, entry.protection_error) == (D(2), D(1), None)
    # placed after the fill, never before
    calls = [c for c, _ in alice.exchange.calls if c in ("place", "place_protective")]
    assert calls == ["place", "place_protective", "place_protective"]  # one leg each


async def test_follower_defaults_apply_when_the_signal_has_none(world: World) -> None:
    alice = await world.follower("alice")
    bob = await world.follower("bob")
    await with_protection(world, alice, ProtectionSettings(tp_perc=D(4), sl_perc=D(3)))
    signal = await signal_with(world, sl="1")  # the signal's stop wins, alice's TP fills in
    await world.run(signal)
    [alice_entry] = await world.legs(signal, alice)
    assert (alice_entry.stop_loss_price, alice_entry.take_profit_price) == (
        D("64350.0"),
        D("67600.0"),  # 65000 x 1.04
    )
    [bob_entry] = await world.legs(signal, bob)
    assert (bob_entry.stop_loss_price, bob_entry.take_profit_price) == (D("64350.0"), None)


async def test_no_tp_or_sl_means_no_protective_orders(world: World) -> None:
    alice = await world.follower("alice")
    await world.run(await signal_with(world))
    assert ("place_protective", "BTCUSDT") not in alice.exchange.calls
    assert alice.exchange.protective == {}


class RefusingProtection(FakeExchange):
    """Its conditional-order endpoint is down until `refuse` is set to False."""

    refuse = True

    async def place_protective_orders(
        self,
        symbol: str,
        position_side: PositionSide,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        client_order_id_prefix: str,
    ) -> list[str]:
        if self.refuse:
            raise ExchangeUnavailable("algo order endpoint down")
        return await super().place_protective_orders(
            symbol, position_side, stop_loss, take_profit, client_order_id_prefix
        )


async def test_a_failure_to_protect_is_recorded_and_notified(world: World) -> None:
    alice = await world.follower("alice")
    refusing = RefusingProtection(mark_prices=alice.exchange.mark_prices)
    world.gateways.add(alice.account.id, refusing)
    signal = await signal_with(world, sl="1")
    await world.run(signal)
    [entry] = await world.legs(signal, alice)
    assert entry.status is IntentStatus.FILLED  # the position is there, unprotected
    assert entry.protection_error == (
        "take-profit / stop-loss not placed: algo order endpoint down"
    )
    assert world.notifier.events() == ["position.protection_failed"]
    user_id, _, text = world.notifier.sent[0]
    assert user_id == alice.user.id
    assert "NOT protected" in text


async def test_a_stop_already_crossed_is_not_sent(world: World) -> None:
    alice = await world.follower("alice")

    class MovesAfterFill(FakeExchange):
        async def fetch_mark_price(self, symbol: str) -> Decimal:
            return D(64000) if self.positions else await super().fetch_mark_price(symbol)

    moving = MovesAfterFill(mark_prices=alice.exchange.mark_prices)
    world.gateways.add(alice.account.id, moving)
    signal = await signal_with(world, sl="1")
    await world.run(signal)
    [entry] = await world.legs(signal, alice)
    assert entry.protection_error is not None
    assert "64350.00 must be below the mark price 64000" in entry.protection_error
    assert moving.protective == {}


async def test_close_and_flip_cancel_the_remaining_protection(world: World) -> None:
    alice = await world.follower("alice")
    opened = await signal_with(world, tp="2", sl="1", name="open")
    await world.run(opened)
    assert alice.exchange.protective["BTCUSDT"]
    flip = await signal_with(world, SignalAction.SHORT, sl="1", name="flip")
    await world.run(flip)
    legs = await world.legs(flip, alice)
    assert [(i.leg, i.status) for i in legs] == [
        (OrderLeg.CLOSE, IntentStatus.FILLED),
        (OrderLeg.ENTRY, IntentStatus.FILLED),
    ]
    # the long's TP/SL went with the close; the short got its own stop, above the price
    assert alice.exchange.protective["BTCUSDT"] == [
        (protective_prefix(legs[1].client_order_id) + "sl", D("65650.0"))
    ]
    close = await signal_with(world, SignalAction.CLOSE, name="close")
    await world.run(close)
    assert "BTCUSDT" not in alice.exchange.protective
    order = [c for c, s in alice.exchange.calls if c.endswith("protective")]
    # each entry first clears what an earlier position may have left (an exchange does
    # not cancel the other leg when a TP/SL fires), then places its own
    assert order == [
        "cancel_protective",  # entry
        "place_protective",  # its stop
        "place_protective",  # its take-profit
        "cancel_protective",  # the flip's close
        "cancel_protective",  # the flip's entry
        "place_protective",
        "cancel_protective",  # close
    ]


async def test_an_entry_first_cancels_what_an_earlier_position_left_behind(world: World) -> None:
    alice = await world.follower("alice")
    # a take-profit that outlived its position: its stop fired, the exchange kept it
    alice.exchange.protective["BTCUSDT"] = [("mp-old-tp", D(70000))]
    signal = await signal_with(world, sl="1")
    await world.run(signal)
    [entry] = await world.legs(signal, alice)
    assert alice.exchange.protective["BTCUSDT"] == [
        (protective_prefix(entry.client_order_id) + "sl", D("64350.0"))
    ]
