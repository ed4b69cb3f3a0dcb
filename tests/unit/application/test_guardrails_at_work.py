"""Daily guardrails inside the fan-out and the portfolio sync, on in-memory adapters."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

import pytest

from mimic.application.guardrails import DailyGuardrails
from mimic.application.portfolio_sync import SyncPortfolio
from mimic.domain.guardrails import GuardrailSettings, utc_day
from mimic.domain.orders import OrderSide
from mimic.domain.positions import PositionSide
from mimic.domain.signal import SignalAction
from tests.fakes.performance import InMemoryBalanceSnapshotRepository, InMemoryFillRepository
from tests.unit.application.test_execute_signal import POLICY, Follower, World


@pytest.fixture
def world() -> World:
    return World()


async def with_guardrails(world: World, follower: Follower, **limits: object) -> None:
    follower.user.guardrails = replace(GuardrailSettings(), **limits)  # type: ignore[arg-type]
    await world.users.save(follower.user)


def sync_of(
    world: World,
    fills: InMemoryFillRepository | None = None,
    snapshots: InMemoryBalanceSnapshotRepository | None = None,
) -> SyncPortfolio:
    return SyncPortfolio(
        world.accounts,
        world.gateways,
        fills or InMemoryFillRepository(world.intents, world.guardrail_days),
        snapshots or InMemoryBalanceSnapshotRepository(),
        world.guardrail_days,
        DailyGuardrails(world.guardrail_days, world.notifier, world.clock),
        world.tx,
        world.clock,
        POLICY,
    )


async def test_profit_lock_skips_the_next_entry_with_its_reason(world: World) -> None:
    locked = await world.follower("locked")
    await with_guardrails(world, locked, profit_lock_perc=D(3))
    free = await world.follower("free")

    first = await world.signal(SignalAction.LONG)
    await world.run(first)  # observed 10000 before the entry: the day's start
    assert (await world.outcome(first, locked))[0][0] == "filled"
    await world.run(await world.signal(SignalAction.CLOSE))
    locked.exchange.set_equity(D(10400))  # +4 % on the day

    entry = await world.signal(SignalAction.LONG)
    await world.run(entry)
    [(status, reason)] = await world.outcome(entry, locked)
    assert status == "skipped"
    assert reason is not None
    assert reason.startswith(
        "daily profit lock: equity 10,400.00 is 4.00% above today's start 10,000.00 (target 3%)"
    )
    assert (await world.outcome(entry, free))[0][0] == "filled"
    assert [(u, e) for u, e, _ in world.notifier.sent] == [(locked.user.id, "guardrail.tripped")]
    # Followers without limits leave no trace in the guardrail days.
    today = utc_day(world.clock.now())
    stored = await world.guardrail_days.days([locked.account.id, free.account.id], today)
    assert set(stored) == {locked.account.id}


async def test_switching_the_limits_off_lifts_a_trip(world: World) -> None:
    follower = await world.follower("f")
    await with_guardrails(world, follower, drawdown_stop_perc=D(1))
    await world.run(await world.signal(SignalAction.LONG))
    await world.run(await world.signal(SignalAction.CLOSE))
    follower.exchange.set_equity(D(9000))
    blocked = await world.signal(SignalAction.LONG)
    await world.run(blocked)
    assert (await world.outcome(blocked, follower))[0][0] == "skipped"

    await with_guardrails(world, follower)
    allowed = await world.signal(SignalAction.LONG)
    await world.run(allowed)
    assert (await world.outcome(allowed, follower))[0][0] == "filled"


async def test_close_all_is_looked_up_not_resent_after_an_unknown_outcome(world: World) -> None:
    follower = await world.follower("f")
    await with_guardrails(world, follower, drawdown_stop_perc=D(2), close_all_on_drawdown=True)
    sync = sync_of(world)
    assert (await sync()).snapshots == 1  # the day's start: 10000
    follower.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.5"), entry_price=D(65000))
    follower.exchange.set_mark_price("BTCUSDT", D(64000))  # -500: 5 % down
    follower.exchange.execute_then_raise()  # the close executes, the answer is lost

    first = await sync()
    assert (first.trips, first.closes) == (1, 1)
    assert follower.exchange.positions == {}
    [request] = follower.exchange.placed
    assert (request.side, request.quantity, request.reduce_only) == (OrderSide.SELL, D("0.5"), True)

    world.clock.advance(timedelta(seconds=30))
    assert (await sync()).closes == 0  # still leased: nobody touches it
    world.clock.advance(timedelta(seconds=60))
    assert (await sync()).closes == 1  # lease over: looked up by its client id, found
    assert len(follower.exchange.placed) == 1
    assert follower.exchange.order_calls() == [
        ("place", request.client_order_id),
        ("find", request.client_order_id),
    ]
    [close] = world.guardrail_days.closes.values()
    assert (close.status.value, close.filled_quantity) == ("filled", D("0.5"))
    assert (await sync()).closes == 0
    assert len(world.notifier.sent) == 1


async def test_a_sync_rerun_in_the_same_hour_stores_nothing_twice(world: World) -> None:
    follower = await world.follower("f")
    fills = InMemoryFillRepository(world.intents, world.guardrail_days)
    snapshots = InMemoryBalanceSnapshotRepository()
    sync = sync_of(world, fills, snapshots)
    await world.run(await world.signal(SignalAction.LONG))
    first = await sync()
    assert (first.snapshots, first.fills) == (1, 1)
    world.clock.advance(timedelta(minutes=59))
    again = await sync()
    assert (again.snapshots, again.fills) == (0, 0)
    world.clock.advance(timedelta(minutes=1))
    assert (await sync()).snapshots == 1
    assert [
        s.hour.minute for s in await snapshots.history([follower.account.id], since=None, limit=10)
    ] == [0, 0]


async def test_the_sync_reads_fills_hourly_and_after_a_fill_balances_for_limits(
    world: World,
) -> None:
    plain = await world.follower("plain")
    limited = await world.follower("limited")
    await with_guardrails(world, limited, drawdown_stop_perc=D(10))
    sync = sync_of(world)

    def reads(follower: Follower) -> list[str]:
        done = [what for what, _ in follower.exchange.calls]
        follower.exchange.calls.clear()
        return done

    assert (await sync()).accounts == 2  # the hour's first round reads everything
    assert reads(plain) == ["fetch_balance", "fetch_positions", "fetch_fills"]
    assert reads(limited) == ["fetch_balance", "fetch_positions", "fetch_fills"]

    world.clock.advance(timedelta(minutes=5))
    assert (await sync()).accounts == 1
    assert reads(plain) == []  # nothing traded, snapshot taken: left alone
    assert reads(limited) == ["fetch_balance"]  # watched by its guardrail

    world.clock.advance(timedelta(minutes=5))
    await world.run(await world.signal(SignalAction.LONG))
    for follower in (plain, limited):
        reads(follower)  # forget the fan-out's own reads
    world.clock.advance(timedelta(minutes=5))
    summary = await sync()
    assert (summary.accounts, summary.fills, summary.snapshots) == (2, 2, 0)
    assert reads(plain) == ["fetch_balance", "fetch_positions", "fetch_fills"]

    world.clock.advance(timedelta(minutes=5))
    assert (await sync()).accounts == 1  # the fill was read: back to the hourly rhythm
    assert reads(plain) == []
