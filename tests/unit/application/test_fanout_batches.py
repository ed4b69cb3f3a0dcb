"""A fan-out larger than one batch: intents are stored a batch at a time, each before any
of its orders is sent, and the next batch is stored while this one's orders are in flight."""

import asyncio
import contextlib
from dataclasses import replace

import pytest

from mimic.application.signal_planning import ExecutionSummary
from mimic.domain.orders import IntentStatus, OrderFill, OrderLeg, OrderRequest, OrderSide
from mimic.domain.positions import PositionSide
from mimic.domain.signal import SignalAction
from mimic.ports.exchange import AccountSnapshot
from tests.fakes.exchange import FakeExchange
from tests.fakes.repositories.order_intents import InMemoryOrderIntentRepository
from tests.unit.application.test_execute_signal import POLICY, D, WorkerCrashed, World


@pytest.fixture
def world() -> World:
    return World()


# Two accounts per batch: five followers make three batches.
SMALL_BATCHES = replace(POLICY, claim_batch=2)


class CheckedExchange(FakeExchange):
    """Fails the test if an order arrives before its intent is stored and held."""

    def __init__(self, intents: InMemoryOrderIntentRepository, signal_id: list[str]) -> None:
        super().__init__(mark_prices={"BTCUSDT": D(65000)})
        self._intents = intents
        self._signal_id = signal_id

    async def place_market_order(self, request: OrderRequest) -> OrderFill:
        stored = {
            i.client_order_id: i.status
            for i in await self._intents.list_for_signal(self._signal_id[0])
        }
        assert stored.get(request.client_order_id) is IntentStatus.SUBMITTING
        return await super().place_market_order(request)


async def test_every_batch_is_stored_before_its_orders_are_sent(world: World) -> None:
    signal_id: list[str] = []
    followers = []
    for name in ("a", "b", "c", "d", "e"):
        follower = await world.follower(name)
        follower.exchange = world.gateways.add(
            follower.account.id, CheckedExchange(world.intents, signal_id)
        )
        followers.append(follower)
    signal = await world.signal(SignalAction.LONG)
    signal_id.append(signal.id)

    summary = await world.run(signal, SMALL_BATCHES)

    assert summary == ExecutionSummary(signal.id, {"filled": 5}, finished=True)
    for follower in followers:
        assert [r.client_order_id for r in follower.exchange.placed] == [follower.cid(signal)]


async def test_a_crash_in_a_later_batch_is_recovered_without_a_second_order(
    world: World,
) -> None:
    followers = [await world.follower(name) for name in ("a", "b", "c", "d", "e")]
    followers[3].exchange.execute_then_raise(WorkerCrashed("SIGKILL"))
    signal = await world.signal(SignalAction.LONG)

    with contextlib.suppress(WorkerCrashed):
        await world.run(signal, SMALL_BATCHES)
    world.clock.advance(SMALL_BATCHES.lease)
    world.clock.advance(SMALL_BATCHES.lease)  # every lease taken so far has run out
    summary = await world.run(signal, SMALL_BATCHES)

    assert summary == ExecutionSummary(signal.id, {"filled": 5}, finished=True)
    for follower in followers:
        assert [r.client_order_id for r in follower.exchange.placed] == [follower.cid(signal)]


async def test_both_legs_of_a_flip_stay_in_one_batch(world: World) -> None:
    first = await world.follower("first")
    flipper = await world.follower("flipper")
    flipper.exchange.set_position("BTCUSDT", PositionSide.SHORT, D("0.01"))
    signal = await world.signal(SignalAction.LONG)

    summary = await world.run(signal, replace(POLICY, claim_batch=1))

    assert summary == ExecutionSummary(signal.id, {"filled": 3}, finished=True)
    assert [r.client_order_id for r in first.exchange.placed] == [first.cid(signal)]
    assert flipper.exchange.placed == [
        flipper.order(signal, OrderSide.BUY, "0.01", leg=OrderLeg.CLOSE, reduce_only=True),
        flipper.order(signal, OrderSide.BUY, "0.007"),
    ]


async def test_a_lease_run_short_releases_the_intent_without_a_lookup(world: World) -> None:
    alice = await world.follower("alice")
    alice.exchange.fail_next_place(WorkerCrashed("SIGKILL"))
    signal = await world.signal(SignalAction.LONG)
    with contextlib.suppress(WorkerCrashed):
        await world.run(signal)
    world.clock.advance(POLICY.lease)
    world.clock.advance(POLICY.lease)
    calls = len(alice.exchange.order_calls())

    # No time left to send once claimed: released at once, not looked up first.
    no_time = replace(POLICY, send_margin=POLICY.lease)
    summary = await world.run(signal, no_time)

    assert summary.counts == {"pending": 1}
    assert alice.exchange.order_calls()[calls:] == []
    assert await world.outcome(signal, alice) == [("pending", "lease ran short before sending")]
    summary = await world.run(signal)  # released: claimable again at once
    assert summary == ExecutionSummary(signal.id, {"filled": 1}, finished=True)
    cid = alice.cid(signal)
    assert alice.exchange.order_calls()[calls:] == [("find", cid), ("place", cid)]


class LoggedExchange(FakeExchange):
    """Writes its account reads and orders in one log shared by every follower."""

    def __init__(self, name: str, log: list[tuple[str, str]]) -> None:
        super().__init__(mark_prices={"BTCUSDT": D(65000)})
        self._name = name
        self._log = log

    async def fetch_snapshot(self, symbol: str, *, with_balance: bool) -> AccountSnapshot:
        self._log.append(("read", self._name))
        return await super().fetch_snapshot(symbol, with_balance=with_balance)

    async def place_market_order(self, request: OrderRequest) -> OrderFill:
        self._log.append(("order", self._name))
        return await super().place_market_order(request)


async def test_the_first_batch_is_sent_before_the_last_is_planned(world: World) -> None:
    log: list[tuple[str, str]] = []
    for name in "abcde":
        follower = await world.follower(name)
        world.gateways.add(follower.account.id, LoggedExchange(name, log))
    signal = await world.signal(SignalAction.LONG)

    summary = await world.run(signal, SMALL_BATCHES)

    assert summary == ExecutionSummary(signal.id, {"filled": 5}, finished=True)
    assert log.index(("order", "a")) < log.index(("read", "e"))
    assert sorted(log) == sorted([("read", n) for n in "abcde"] + [("order", n) for n in "abcde"])


class FirstOrderAwaited(LoggedExchange):
    """Reads a later account only once the first order went out (or half a second passed):
    a fan-out that planned every account before sending reads them all first."""

    def __init__(self, name: str, log: list[tuple[str, str]], sent: asyncio.Event) -> None:
        super().__init__(name, log)
        self._sent = sent

    async def fetch_snapshot(self, symbol: str, *, with_balance: bool) -> AccountSnapshot:
        if self._name != "a":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sent.wait(), timeout=0.5)
        return await super().fetch_snapshot(symbol, with_balance=with_balance)

    async def place_market_order(self, request: OrderRequest) -> OrderFill:
        fill = await super().place_market_order(request)
        self._sent.set()
        return fill


async def test_the_first_batch_is_a_small_one(world: World) -> None:
    log: list[tuple[str, str]] = []
    sent = asyncio.Event()
    for name in "abcde":
        follower = await world.follower(name)
        world.gateways.add(follower.account.id, FirstOrderAwaited(name, log, sent))
    signal = await world.signal(SignalAction.LONG)

    # One claim batch would hold all five: the first order waits only for the first account.
    summary = await world.run(signal, replace(POLICY, claim_batch=5, first_batch=1))

    assert summary == ExecutionSummary(signal.id, {"filled": 5}, finished=True)
    assert log[:2] == [("read", "a"), ("order", "a")]
    assert sorted(log) == sorted([("read", n) for n in "abcde"] + [("order", n) for n in "abcde"])


class CrashingRead(FakeExchange):
    """The worker dies while this account is read (planning a later batch), once."""

    def __init__(self) -> None:
        super().__init__(mark_prices={"BTCUSDT": D(65000)})
        self.crash = True

    async def fetch_snapshot(self, symbol: str, *, with_balance: bool) -> AccountSnapshot:
        if self.crash:
            self.crash = False
            raise WorkerCrashed("SIGKILL")
        return await super().fetch_snapshot(symbol, with_balance=with_balance)


async def test_a_crash_while_planning_a_later_batch_sends_no_order_twice(world: World) -> None:
    followers = [await world.follower(name) for name in "abcde"]
    followers[4].exchange = world.gateways.add(followers[4].account.id, CrashingRead())
    signal = await world.signal(SignalAction.LONG)

    with contextlib.suppress(WorkerCrashed):
        await world.run(signal, SMALL_BATCHES)
    assert [f.exchange.placed != [] for f in followers] == [True] * 4 + [False]
    world.clock.advance(SMALL_BATCHES.lease)
    world.clock.advance(SMALL_BATCHES.lease)
    summary = await world.run(signal, SMALL_BATCHES)

    assert summary == ExecutionSummary(signal.id, {"filled": 5}, finished=True)
    for follower in followers:
        assert [r.client_order_id for r in follower.exchange.placed] == [follower.cid(signal)]
