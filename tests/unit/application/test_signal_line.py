"""Signals of one source on one symbol run one after the other without holding a worker:
a later one is parked, the finisher of the earlier one queues it, the sweeper re-drives the
one next in line."""

import asyncio
from datetime import timedelta

import pytest

from mimic.application.signal_planning import ExecutionSummary
from mimic.application.sweep_signals import SweepUnfinishedSignals
from mimic.domain.errors import OutcomeUnknown, RateLimited
from mimic.domain.signal import SignalAction, SignalStatus
from tests.fakes.services import RecordingSignalQueue
from tests.unit.application.test_execute_signal import POLICY, World

GRACE = timedelta(seconds=60)


@pytest.fixture
def world() -> World:
    return World()


async def test_a_signal_behind_an_earlier_one_is_parked_at_once(world: World) -> None:
    await world.follower("alice")
    entry = await world.signal(SignalAction.LONG)
    close = await world.signal(SignalAction.CLOSE)

    # Today's worker held its slot here for up to 30 s; a parked signal returns at once.
    parked = await asyncio.wait_for(world.run(close), timeout=2)

    assert parked == ExecutionSummary(close.id, {}, finished=False)
    assert await world.intents.list_for_signal(close.id) == []
    assert await world.status(close) is SignalStatus.RECEIVED
    assert world.queue.parts == []
    assert await world.status(entry) is SignalStatus.RECEIVED


async def test_the_finisher_of_a_signal_queues_the_one_parked_behind_it(world: World) -> None:
    alice = await world.follower("alice")
    entry = await world.signal(SignalAction.LONG)
    close = await world.signal(SignalAction.CLOSE, fanout_parts=2)
    await world.signal(SignalAction.LONG)  # third in line: resumed by the close, not now
    await world.signal(SignalAction.LONG, symbol="ETHUSDT")  # another line
    await world.signal(SignalAction.LONG, source_id="other master")  # another source
    await world.run(close)

    assert (await world.run(entry)).finished

    assert world.queue.parts == [(close.id, 0), (close.id, 1)]
    await world.run(close, part=0)
    await world.run(close, part=1)
    assert await world.status(close) is SignalStatus.DONE
    assert "BTCUSDT" not in alice.exchange.positions


async def test_an_unfinished_signal_resumes_nothing(world: World) -> None:
    alice = await world.follower("alice")
    alice.exchange.fail_next_place(RateLimited("Too many requests", retry_after_seconds=1))
    entry = await world.signal(SignalAction.LONG)
    await world.signal(SignalAction.CLOSE)

    assert not (await world.run(entry)).finished

    assert world.queue.parts == []
    assert await world.status(entry) is not SignalStatus.DONE


async def test_the_last_part_to_finish_resumes_the_next_signal_once(world: World) -> None:
    await world.follower("alice")
    entry = await world.signal(SignalAction.LONG, fanout_parts=2)
    close = await world.signal(SignalAction.CLOSE)

    await world.run(entry, part=0)
    assert world.queue.parts == []
    await world.run(entry, part=1)

    assert world.queue.parts == [(close.id, 0)]


async def test_the_sweeper_runs_a_signal_nobody_started_at_once(world: World) -> None:
    # Acknowledged, but its queue message was lost (serve stopped before enqueueing it).
    lost = await world.signal(SignalAction.CLOSE)
    behind = await world.signal(SignalAction.LONG)
    sweep = SweepUnfinishedSignals(
        world.signals, world.intents, world.queue, world.clock, grace=GRACE
    )

    assert (await sweep()).requeued == [lost.id]
    assert behind.id not in world.queue.enqueued


async def test_the_sweeper_leaves_a_started_signal_to_its_worker_for_a_lease(
    world: World,
) -> None:
    started = await world.signal(SignalAction.LONG, fanout_parts=2)
    await world.signals.set_status(started.id, SignalStatus.PROCESSING)
    queue = RecordingSignalQueue()
    sweep = SweepUnfinishedSignals(world.signals, world.intents, queue, world.clock, grace=GRACE)

    assert (await sweep()).requeued == []
    world.clock.advance(GRACE + timedelta(seconds=1))
    assert (await sweep()).requeued == [started.id]
    assert queue.parts == [(started.id, 0), (started.id, 1)]


async def test_the_sweeper_leaves_a_signal_alone_while_a_worker_holds_its_orders(
    world: World,
) -> None:
    alice = await world.follower("alice")
    alice.exchange.fail_next_place(OutcomeUnknown("timeout"))  # held under its lease
    signal = await world.signal(SignalAction.LONG)
    assert not (await world.run(signal)).finished
    grace = timedelta(seconds=10)
    sweep = SweepUnfinishedSignals(world.signals, world.intents, world.queue, world.clock, grace)

    world.clock.advance(grace * 2)
    assert (await sweep()).requeued == []
    world.clock.advance(POLICY.lease)  # the lease ran out: nobody works on it any more
    assert (await sweep()).requeued == [signal.id]


async def test_a_burst_on_one_symbol_drains_without_waiting_and_blocks_no_other(
    world: World,
) -> None:
    """Issue 15's stall: a burst of signals on one symbol, one of them never enqueued.

    Every job returns at once (parked or run); an unrelated symbol's signal runs at its
    turn; the sweeper re-drives the lost one and the line drains to the end.
    """
    alice = await world.follower("alice")
    burst = [
        await world.signal(SignalAction.LONG if n % 2 == 0 else SignalAction.CLOSE, "ETHUSDT")
        for n in range(40)
    ]
    unrelated = await world.signal(SignalAction.LONG, "BTCUSDT")
    lost = burst[0]
    jobs = [(s.id, 0) for s in burst[1:]] + [(unrelated.id, 0)]
    sweep = SweepUnfinishedSignals(
        world.signals, world.intents, world.queue, world.clock, grace=GRACE
    )

    for signal_id, part in jobs:  # each returns at once: nothing waits
        await asyncio.wait_for(world.executor()(signal_id, part), timeout=2)
    assert await world.status(unrelated) is SignalStatus.DONE
    assert "BTCUSDT" in alice.exchange.positions
    assert all([await world.status(s) is SignalStatus.RECEIVED for s in burst])

    assert (await sweep()).requeued == [lost.id]
    while world.queue.parts:  # a worker taking what the finishers queue
        signal_id, part = world.queue.parts.pop(0)
        await world.executor()(signal_id, part)

    assert all([await world.status(s) is SignalStatus.DONE for s in burst])
    assert len(alice.exchange.placed) == 41  # 20 entries, 20 closes, and BTCUSDT's entry
    assert "ETHUSDT" not in alice.exchange.positions
