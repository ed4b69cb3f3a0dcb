"""The stream holder over fakes: reconciles on every (re)connection, records what streams
report, restarts an ended stream, and reports how many it holds."""

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mimic.adapters.memory.stream_leases import SoleHolderLeases
from mimic.application.hold_account_streams import HoldAccountStreams, StreamFeed, StreamPolicy
from mimic.domain.account_events import AccountEvent, FillEvent, PositionEvent, StreamConnected
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import ExchangeUnavailable
from mimic.domain.orders import OrderIntent, OrderLeg, OrderSide
from mimic.domain.performance import AccountFill
from mimic.ports.account_events import AccountEventStream, AccountStreamWork
from tests.fakes.metrics import RecordingMetrics
from tests.fakes.services import FixedClock

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class ScriptedStream(AccountEventStream):
    """Each account's stream plays the batches a test puts in its queue; an exception put
    there ends the stream with it."""

    def __init__(self) -> None:
        self.queues: dict[str, asyncio.Queue[Sequence[AccountEvent] | Exception]] = {}

    def supports(self, exchange: str) -> bool:
        return exchange == "paper"

    async def events(self, account: ExchangeAccount) -> AsyncIterator[Sequence[AccountEvent]]:
        queue = self.queues.setdefault(account.id, asyncio.Queue())
        while True:
            item = await queue.get()
            if isinstance(item, Exception):
                raise item
            yield item


class RecordingWork(AccountStreamWork):
    """Records in calls (one per batch of streams); an account in `failing` fails alone
    (as `RecordAccountFills.record_many_isolated` makes it); the positions in `flat_after`
    are those a recording finds flat. Reconciles in calls too; an account in `unreachable`
    fails its own reconciliation."""

    def __init__(self, accounts: list[ExchangeAccount]) -> None:
        self.listed = accounts
        self.recorded: list[tuple[str, int]] = []
        self.calls: list[list[str]] = []
        self.reconciled: list[tuple[str, datetime]] = []
        self.reconcile_calls: list[list[str]] = []
        self.unreachable: set[str] = set()
        self.failing: set[str] = set()
        self.flat_after: dict[str, OrderIntent] = {}
        self.released: list[str] = []
        self.recording = asyncio.Event()  # cleared: every call waits for it
        self.recording.set()

    async def streamed(self) -> dict[str, str]:
        return {a.id: a.exchange for a in self.listed}

    async def accounts(self, account_ids: Collection[str]) -> list[ExchangeAccount]:
        return [a for a in self.listed if a.id in account_ids]

    async def record(
        self, batches: Sequence[tuple[ExchangeAccount, Sequence[AccountEvent]]]
    ) -> tuple[list[tuple[ExchangeAccount, OrderIntent]], dict[str, Exception]]:
        await self.recording.wait()
        self.calls.append([a.id for a, _ in batches])
        recorded = [(a, events) for a, events in batches if a.id not in self.failing]
        self.recorded += [(a.id, len(events)) for a, events in recorded]
        flat = [(a, self.flat_after[a.id]) for a, _ in recorded if a.id in self.flat_after]
        return flat, {
            a.id: RuntimeError("database away") for a, _ in batches if a.id in self.failing
        }

    async def release(self, flat: Sequence[tuple[ExchangeAccount, OrderIntent]]) -> None:
        self.released += [entry.id for _, entry in flat]

    async def reconcile(
        self, accounts: Sequence[tuple[ExchangeAccount, datetime]], at_once: int
    ) -> dict[str, Exception]:
        self.reconcile_calls.append([a.id for a, _ in accounts])
        self.reconciled += [(a.id, since) for a, since in accounts if a.id not in self.unreachable]
        return {
            a.id: ExchangeUnavailable("exchange away")
            for a, _ in accounts
            if a.id in self.unreachable
        }


def account(account_id: str, exchange: str = "paper") -> ExchangeAccount:
    return ExchangeAccount(account_id, "user", exchange, account_id, NOW)


def fill() -> FillEvent:
    executed = AccountFill(
        "f1", "BTCUSDT", OrderSide.SELL, Decimal(1), Decimal(1), Decimal(0), None, NOW
    )
    return FillEvent(executed, "o1", None, Decimal(1), Decimal(1))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_streams_are_reconciled_on_connect_and_their_fills_recorded() -> None:
    clock, stream, metrics = FixedClock(NOW), ScriptedStream(), RecordingMetrics()
    work = RecordingWork([account("a"), account("b"), account("c", exchange="kraken")])
    policy = StreamPolicy()
    holder = HoldAccountStreams(
        [StreamFeed(stream)], SoleHolderLeases(), work, clock, metrics, policy
    )
    await holder.refresh()
    await settle()
    assert holder.held == {"a", "b"}  # no stream for kraken
    assert metrics.account_streams == 2

    for account_id in ("a", "b"):  # every stream starts so
        stream.queues[account_id].put_nowait([StreamConnected(NOW)])
    stream.queues["a"].put_nowait([fill(), fill()])
    await settle()
    assert sorted(work.reconciled) == [("a", NOW - policy.lookback), ("b", NOW - policy.lookback)]
    assert work.recorded == [("a", 2)]

    clock.advance(timedelta(minutes=2))
    stream.queues["a"].put_nowait([StreamConnected(NOW)])  # reconnected: from the last one
    await settle()
    assert work.reconciled[-1] == ("a", NOW - policy.overlap)

    clock.advance(policy.reconcile_every)
    await holder.refresh()  # periodic, for every held account
    await settle()
    assert sorted(a for a, _ in work.reconciled[-2:]) == ["a", "b"]
    await holder.stop()
    assert metrics.account_streams == 0


async def test_an_ended_stream_starts_again_after_a_while() -> None:
    clock, stream = FixedClock(NOW), ScriptedStream()
    work = RecordingWork([account("a")])
    policy = StreamPolicy()
    holder = HoldAccountStreams(
        [StreamFeed(stream)], SoleHolderLeases(), work, clock, RecordingMetrics(), policy
    )
    await holder.refresh()
    await settle()
    stream.queues["a"].put_nowait(ExchangeUnavailable("connection lost for good"))
    await settle()
    assert holder.held == set()
    await holder.refresh()
    assert holder.held == set()  # not at once
    clock.advance(policy.retry_after)
    await holder.refresh()
    assert holder.held == {"a"}
    await holder.stop()


def entry(account_id: str) -> OrderIntent:
    return OrderIntent(
        f"entry-{account_id}", None, account_id, "user", OrderLeg.ENTRY, "BTCUSDT",
        OrderSide.BUY, Decimal(1), False, None, f"mimic-{account_id}", NOW,
    )  # fmt: skip


async def connected_holder(
    work: RecordingWork, policy: StreamPolicy | None = None
) -> tuple[HoldAccountStreams, ScriptedStream]:
    stream = ScriptedStream()
    holder = HoldAccountStreams(
        [StreamFeed(stream)],
        SoleHolderLeases(),
        work,
        FixedClock(NOW),
        RecordingMetrics(),
        policy or StreamPolicy(),
    )
    await holder.refresh()
    await settle()
    for account_id in holder.held:
        stream.queues[account_id].put_nowait([StreamConnected(NOW)])
    await settle()
    return holder, stream


async def fills_while_recording(
    work: RecordingWork, stream: ScriptedStream, *, first: str, meanwhile: str
) -> None:
    """`first` reports a fill, whose recording is slow: the others report theirs meanwhile."""
    work.recording.clear()
    stream.queues[first].put_nowait([fill()])
    await settle()
    for account_id in meanwhile:
        stream.queues[account_id].put_nowait([fill()])
    await settle()
    work.recording.set()
    await settle()


async def test_what_many_streams_report_at_once_is_recorded_in_one_go() -> None:
    work = RecordingWork([account(name) for name in "abcd"])
    work.flat_after = {"b": entry("b"), "d": entry("d")}
    holder, stream = await connected_holder(work)
    await fills_while_recording(work, stream, first="a", meanwhile="bcd")
    assert work.calls == [["a"], ["b", "c", "d"]]
    assert sorted(work.recorded) == [("a", 1), ("b", 1), ("c", 1), ("d", 1)]
    assert sorted(work.released) == ["entry-b", "entry-d"]  # the leftovers, once recorded
    await holder.stop()


async def test_an_account_whose_fills_fail_is_reconciled_and_the_others_recorded() -> None:
    work = RecordingWork([account(name) for name in "abc"])
    holder, stream = await connected_holder(work)
    reconciled = len(work.reconciled)
    work.failing = {"b"}
    await fills_while_recording(work, stream, first="c", meanwhile="ab")
    assert work.calls == [["c"], ["a", "b"]]
    assert sorted(work.recorded) == [("a", 1), ("c", 1)]
    await holder.refresh()  # b's events are not lost: b is reconciled at once
    await settle()
    assert [a for a, _ in work.reconciled[reconciled:]] == ["b"]
    await holder.stop()


def flat(symbol: str = "BTCUSDT") -> PositionEvent:
    return PositionEvent(symbol, Decimal(0), Decimal(0), NOW)


async def test_a_position_gone_flat_with_no_fill_seen_is_reconciled() -> None:
    work = RecordingWork([account("a"), account("b")])
    grace = timedelta(milliseconds=20)
    holder, stream = await connected_holder(work, StreamPolicy(flat_grace=grace))
    reconciled = len(work.reconciled)
    stream.queues["a"].put_nowait([flat()])  # closed by hand, ADL: the fill never came
    stream.queues["b"].put_nowait([flat()])
    stream.queues["b"].put_nowait([fill()])  # the fill that closed it, just after
    await settle()
    await asyncio.sleep(0.05)
    await settle()
    assert [a for a, _ in work.reconciled[reconciled:]] == ["a"]
    assert ("b", 1) in work.recorded
    await holder.stop()


async def test_streams_connecting_together_are_reconciled_in_batches(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, stream = FixedClock(NOW), ScriptedStream()
    work = RecordingWork([account(name) for name in "abcde"])
    work.unreachable = {"c"}
    policy = StreamPolicy(reconcile_batch=2)
    holder = HoldAccountStreams(
        [StreamFeed(stream)], SoleHolderLeases(), work, clock, RecordingMetrics(), policy
    )
    await holder.refresh()
    await settle()
    caplog.set_level(logging.INFO, "mimic.application.hold_account_streams")
    for name in "abcde":
        stream.queues[name].put_nowait([StreamConnected(NOW)])
    for _ in range(3):  # a few hops a batch
        await settle()
    assert work.reconcile_calls == [["a", "b"], ["c", "d"], ["e"]]
    assert sorted(a for a, _ in work.reconciled) == ["a", "b", "d", "e"]
    assert "settled" not in caplog.text  # c is not reconciled yet
    assert not holder.settled.is_set()

    work.unreachable = set()
    clock.advance(policy.retry_after)
    await holder.refresh()  # c again, alone
    await settle()
    assert work.reconcile_calls[-1] == ["c"]
    assert "account streams settled: 5 held, each reconciled" in caplog.text
    assert holder.settled.is_set()  # what the process keeps is frozen now
    await holder.stop()


async def test_a_stream_reads_on_once_its_fills_are_recorded() -> None:
    """In a burst, recording what came goes before reading what follows on a socket."""
    work = RecordingWork([account("a")])
    holder, stream = await connected_holder(work)
    work.recording.clear()
    stream.queues["a"].put_nowait([fill()])
    stream.queues["a"].put_nowait([fill()])
    await settle()
    assert stream.queues["a"].qsize() == 1  # waits for the first batch's recording
    work.recording.set()
    await settle()
    assert stream.queues["a"].qsize() == 0
    assert work.recorded == [("a", 1), ("a", 1)]
    await holder.stop()
