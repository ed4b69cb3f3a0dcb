"""The position monitor over fakes: crashes, lookups before resends, DCA limits.

BTCUSDT at 65,000; defaults risk 1 %, leverage 5 -> entries of 0.007 BTC. Trailing
activation 2 % (66,300), callback 1 %.
"""

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from mimic.adapters.memory.trailing import InMemoryTrailingStateStore
from mimic.adapters.price_feeds import PriceFeedsByExchange
from mimic.application.monitor_positions import MonitorPolicy, MonitorPositions
from mimic.application.position_protection import PositionProtection
from mimic.domain.errors import InsufficientMargin
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg, OrderRequest, OrderSide
from mimic.domain.protection import (
    DcaSettings,
    ProtectionSettings,
    TrailingSettings,
    protective_prefix,
)
from mimic.domain.signal import SignalAction
from mimic.ports.live_events import user_audience
from tests.fakes.live_events import RecordingLiveEvents
from tests.fakes.protection import DictPriceFeed, InMemoryPositionIntentRepository
from tests.unit.application.test_execute_signal import (
    PAST_THE_LEASE,
    POLICY,
    Follower,
    WorkerCrashed,
    World,
)
from tests.unit.domain.test_signal_protection import (
    RefusingProtection,
    signal_with,
    with_protection,
)

D = Decimal
TRAILING = ProtectionSettings(trailing=TrailingSettings(True, D(2), D(1)))


@dataclass
class Watch:
    world: World
    feed: DictPriceFeed = field(default_factory=DictPriceFeed)
    trailing: InMemoryTrailingStateStore = field(default_factory=InMemoryTrailingStateStore)
    live: RecordingLiveEvents = field(default_factory=RecordingLiveEvents)

    def monitor(self) -> MonitorPositions:
        """A new instance per round, as each scheduled task builds it."""
        w = self.world
        return MonitorPositions(
            w.accounts,
            InMemoryPositionIntentRepository(w.intents),
            w.intents,
            w.settings,
            w.gateways,
            PriceFeedsByExchange({"paper": self.feed}),
            self.trailing,
            PositionProtection(w.notifier),
            w.notifier,
            w.tx,
            w.clock,
            MonitorPolicy(lease=POLICY.lease),
            self.live,
        )

    async def round_at(self, price: str, *followers: Follower) -> None:
        self.feed.prices["BTCUSDT"] = D(price)
        for follower in followers:
            follower.exchange.set_mark_price("BTCUSDT", D(price))
        await self.monitor()()

    def legs(self, leg: OrderLeg) -> list[OrderIntent]:
        return [i for i in self.world.intents.all() if i.leg is leg]


@pytest.fixture
def watch() -> Watch:
    return Watch(World())


async def opened(watch: Watch, settings: ProtectionSettings) -> Follower:
    world = watch.world
    alice = await world.follower("alice")
    await with_protection(world, alice, settings)
    await world.run(await world.signal(SignalAction.LONG))
    assert alice.exchange.positions["BTCUSDT"].quantity == D("0.007")
    return alice


async def test_a_close_stored_but_never_sent_is_sent_once_after_the_lease(watch: Watch) -> None:
    alice = await opened(watch, TRAILING)
    await watch.round_at("67000", alice)  # activated: stop 66330
    alice.exchange.fail_next_place(WorkerCrashed())
    with pytest.raises(WorkerCrashed):
        await watch.round_at("66300", alice)  # hit; the worker dies while sending
    [close] = watch.legs(OrderLeg.TRAILING_STOP)
    assert close.status is IntentStatus.SUBMITTING
    assert alice.exchange.positions  # nothing was executed

    await watch.round_at("66300", alice)  # another worker, within the lease: hands off
    assert [c for c, _ in alice.exchange.order_calls()].count("place") == 2  # entry, crash

    watch.world.clock.advance(PAST_THE_LEASE)
    await watch.round_at("66200", alice)
    [close] = watch.legs(OrderLeg.TRAILING_STOP)
    assert close.status is IntentStatus.FILLED
    assert close.attempts == 2
    assert close.reason == "trailing stop hit at 66300: stop 66330 (best 67000 since activation)"
    assert "BTCUSDT" not in alice.exchange.positions
    # looked up before it was sent again, and executed once
    calls = [c for c in alice.exchange.order_calls() if c[1] == close.client_order_id]
    assert calls == [
        ("place", close.client_order_id),
        ("find", close.client_order_id),
        ("place", close.client_order_id),
    ]
    assert sum(1 for r in alice.exchange.placed if r.client_order_id == close.client_order_id) == 1
    assert watch.world.notifier.events() == ["position.trailing_stop"]


async def test_each_move_of_a_trailing_stop_reaches_the_followers_page(watch: Watch) -> None:
    alice = await opened(watch, TRAILING)
    await watch.round_at("66000", alice)  # not activated yet (activation at +2 %: 66300)
    await watch.round_at("67000", alice)  # activated: stop 66330
    await watch.round_at("66900", alice)  # below the best: the stop stays
    await watch.round_at("68000", alice)  # new best: stop 67320

    moves = [e for to, e in watch.live.published if to == user_audience(alice.user.id)]
    assert [(e.kind, e.data["stop_price"]) for e in moves] == [
        ("position.trailing_moved", "66330"),
        ("position.trailing_moved", "67320"),
    ]
    assert moves[0].data["symbol"] == "BTCUSDT"


async def test_a_close_executed_before_the_crash_is_found_not_resent(watch: Watch) -> None:
    alice = await opened(watch, TRAILING)
    await watch.round_at("67000", alice)
    alice.exchange.execute_then_raise(WorkerCrashed())
    with pytest.raises(WorkerCrashed):
        await watch.round_at("66300", alice)
    assert "BTCUSDT" not in alice.exchange.positions  # it did execute
    watch.world.clock.advance(PAST_THE_LEASE)
    await watch.round_at("66000", alice)
    [close] = watch.legs(OrderLeg.TRAILING_STOP)
    assert close.status is IntentStatus.FILLED
    assert close.average_price == D(66300)
    cid = close.client_order_id
    assert [c for c in alice.exchange.order_calls() if c[1] == cid] == [
        ("place", cid),
        ("find", cid),
    ]


async def test_a_refused_close_is_recorded_and_tried_again_as_the_next_number(
    watch: Watch,
) -> None:
    alice = await opened(watch, TRAILING)
    await watch.round_at("67000", alice)
    alice.exchange.fail_next_place(InsufficientMargin("margin is insufficient"))
    await watch.round_at("66300", alice)
    [refused] = watch.legs(OrderLeg.TRAILING_STOP)
    assert refused.status is IntentStatus.REJECTED
    assert refused.reason is not None
    assert refused.reason.endswith("refused: margin is insufficient")
    await watch.round_at("66250", alice)
    closes = watch.legs(OrderLeg.TRAILING_STOP)
    assert [c.status for c in closes] == [IntentStatus.REJECTED, IntentStatus.FILLED]
    assert "BTCUSDT" not in alice.exchange.positions


async def test_dca_that_does_not_fit_the_margin_is_skipped_once_and_stops(watch: Watch) -> None:
    dca = ProtectionSettings(dca=DcaSettings(True, D(2), D(100), 3))
    alice = await opened(watch, dca)
    # add 1 = 0.007 x 100 = 0.7 BTC at 63700 -> 44590 notional / 5 = 8918 USDT margin;
    # the risk cap of 10 % of ~10000 equity refuses it
    await watch.round_at("63700", alice)
    await watch.round_at("63000", alice)
    [skipped] = watch.legs(OrderLeg.DCA)
    assert skipped.status is IntentStatus.SKIPPED
    assert skipped.reason is not None
    assert "above the risk cap of 10%" in skipped.reason
    assert watch.world.notifier.events() == ["position.dca"]
    assert alice.exchange.positions["BTCUSDT"].quantity == D("0.007")


async def test_the_monitor_leaves_followers_without_trailing_or_dca_alone(watch: Watch) -> None:
    alice = await opened(watch, ProtectionSettings(tp_perc=D(2)))
    calls = len(alice.exchange.calls)
    await watch.round_at("70000", alice)
    assert len(alice.exchange.calls) == calls
    assert await watch.trailing.load("anything") is None


async def protected_long(watch: Watch) -> Follower:
    """A watched long of 0.007 BTC at 65,000 with SL 1 % (64,350) and TP 10 % (71,500)."""
    alice = await watch.world.follower("alice")
    await with_protection(watch.world, alice, TRAILING)
    await watch.world.run(await signal_with(watch.world, tp="10", sl="1"))
    return alice


async def stop_fires(world: World, follower: Follower) -> None:
    """The exchange fires the stop itself and leaves the take-profit behind, as Binance does."""
    [entry] = [i for i in world.intents.all() if i.leg is OrderLeg.ENTRY]
    prefix = protective_prefix(entry.client_order_id)
    follower.exchange.protective["BTCUSDT"] = [(prefix + "tp", D(71500))]
    follower.exchange.set_mark_price("BTCUSDT", D(64000))
    await follower.exchange.place_market_order(
        OrderRequest("BTCUSDT", OrderSide.SELL, D("0.007"), prefix + "sl", reduce_only=True)
    )


async def test_a_native_stop_that_fired_is_recorded_and_its_other_leg_cancelled(
    watch: Watch,
) -> None:
    world = watch.world
    alice = await protected_long(watch)  # SL 64350, TP 71500
    await watch.round_at("65000", alice)  # watched from now on
    await stop_fires(world, alice)
    await watch.round_at("64000", alice)
    [recorded] = watch.legs(OrderLeg.STOP_LOSS)
    assert (recorded.status, recorded.average_price) == (IntentStatus.FILLED, D(64000))
    assert recorded.reason == "stop-loss hit: trigger 64350, filled at 64000"
    assert "BTCUSDT" not in alice.exchange.protective
    assert world.notifier.events() == ["position.stop_loss"]
    await watch.round_at("63000", alice)  # recorded and notified once
    assert world.notifier.events() == ["position.stop_loss"]


async def test_protection_that_failed_is_retried_quietly_until_it_is_on(watch: Watch) -> None:
    world = watch.world
    alice = await world.follower("alice")
    await with_protection(world, alice, TRAILING)
    refusing = RefusingProtection(mark_prices=alice.exchange.mark_prices)
    world.gateways.add(alice.account.id, refusing)
    await world.run(await signal_with(world, sl="1"))
    assert world.notifier.events() == ["position.protection_failed"]
    await watch.round_at("65000")
    await watch.round_at("65000")
    assert world.notifier.events() == ["position.protection_failed"]  # not again and again

    refusing.refuse = False  # the exchange's algo endpoint is back
    await watch.round_at("65000")
    [entry] = [i for i in world.intents.all() if i.leg is OrderLeg.ENTRY]
    assert (entry.stop_loss_price, entry.protection_error) == (D("64350.00"), None)
    assert refusing.protective["BTCUSDT"] == [
        (protective_prefix(entry.client_order_id) + "sl", D("64350.00"))
    ]
    assert world.notifier.events() == ["position.protection_failed", "position.protected"]
    await watch.round_at("65000")
    assert world.notifier.events() == ["position.protection_failed", "position.protected"]


async def test_a_stop_that_fired_before_the_first_round_is_still_recorded(watch: Watch) -> None:
    """Issue 14: an SL some 2 s after the entry, before any round had seen the position."""
    world = watch.world
    alice = await protected_long(watch)
    await stop_fires(world, alice)
    await watch.round_at("64000", alice)
    [recorded] = watch.legs(OrderLeg.STOP_LOSS)
    assert recorded.status is IntentStatus.FILLED
    assert "BTCUSDT" not in alice.exchange.protective
    await watch.round_at("63000", alice)
    assert world.notifier.events() == ["position.stop_loss"]
    calls = len(alice.exchange.calls)
    await watch.round_at("63000", alice)  # settled: the round reads positions, looks up nothing
    assert alice.exchange.calls[calls:] == [("fetch_positions", "")]
