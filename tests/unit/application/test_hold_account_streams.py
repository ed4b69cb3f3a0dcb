"""The stream holder over fakes: reconciles on every (re)connection, records what streams
report, restarts an ended stream, and reports how many it holds."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from mimic.adapters.memory.stream_leases import SoleHolderLeases
from mimic.application.hold_account_streams import HoldAccountStreams, StreamPolicy
from mimic.domain.account_events import AccountEvent, FillEvent, StreamConnected
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import ExchangeUnavailable
from mimic.domain.orders import CLIENT_ORDER_ID_PREFIX, OrderSide
from mimic.domain.performance import AccountFill
from mimic.domain.protection import protective_prefix
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
    def __init__(self, accounts: list[ExchangeAccount]) -> None:
        self.listed = accounts
        self.recorded: list[tuple[str, int]] = []
        self.recorded_sent: list[list[tuple[str, int]]] = []  # one list per unit of work
        self.reconciled: list[tuple[str, datetime]] = []
        self.failing: Exception | None = None

    async def accounts(self) -> list[ExchangeAccount]:
        return self.listed

    async def record(self, account: ExchangeAccount, events: Sequence[AccountEvent]) -> None:
        self.recorded.append((account.id, len(events)))

    async def record_sent(
        self, items: Sequence[tuple[ExchangeAccount, Sequence[FillEvent]]]
    ) -> None:
        await asyncio.sleep(0)  # a unit of work takes a while: others arrive meanwhile
        if self.failing is not None:
            raise self.failing
        self.recorded_sent.append([(a.id, len(events)) for a, events in items])

    async def reconcile(self, account: ExchangeAccount, since: datetime) -> None:
        self.reconciled.append((account.id, since))


def account(account_id: str, exchange: str = "paper") -> ExchangeAccount:
    return ExchangeAccount(account_id, "user", exchange, account_id, NOW)


def fill(client_order_id: str | None = None) -> FillEvent:
    executed = AccountFill(
        "f1", "BTCUSDT", OrderSide.SELL, Decimal(1), Decimal(1), Decimal(0), None, NOW
    )
    return FillEvent(executed, "o1", client_order_id, Decimal(1), Decimal(1))


def sent_fill() -> FillEvent:
    """A fill of a market order Mimic sent (a fan-out's entry)."""
    return fill(CLIENT_ORDER_ID_PREFIX + "0123456789abcdef")


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_streams_are_reconciled_on_connect_and_their_fills_recorded() -> None:
    clock, stream, metrics = FixedClock(NOW), ScriptedStream(), RecordingMetrics()
    work = RecordingWork([account("a"), account("b"), account("c", exchange="kraken")])
    policy = StreamPolicy()
    holder = HoldAccountStreams([stream], SoleHolderLeases(), work, clock, metrics, policy)
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
        [stream], SoleHolderLeases(), work, clock, RecordingMetrics(), policy
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


async def started(
    accounts: list[ExchangeAccount],
) -> tuple[HoldAccountStreams, ScriptedStream, RecordingWork]:
    stream, work = ScriptedStream(), RecordingWork(accounts)
    holder = HoldAccountStreams(
        [stream], SoleHolderLeases(), work, FixedClock(NOW), RecordingMetrics(), StreamPolicy()
    )
    await holder.refresh()
    await settle()
    return holder, stream, work


async def test_a_fan_outs_fills_on_many_streams_are_stored_in_one_unit_of_work() -> None:
    """A thousand followers' entries fill together: their fills were a transaction (and a
    read of positions) per account, which on SQLite held the fan-out's own results back."""
    holder, stream, work = await started([account(f"a{n}") for n in range(5)])
    for n in range(5):
        stream.queues[f"a{n}"].put_nowait([sent_fill()])
    await settle()
    assert work.recorded_sent == [[(f"a{n}", 1) for n in range(5)]]
    assert work.recorded == []  # nothing left to classify

    stream.queues["a0"].put_nowait([sent_fill()])  # the next burst is a unit of its own
    await settle()
    assert work.recorded_sent[-1] == [("a0", 1)]
    await holder.stop()


async def test_other_fills_of_a_batch_are_still_classified_one_account_at_a_time() -> None:
    holder, stream, work = await started([account("a")])
    take_profit = fill(protective_prefix(CLIENT_ORDER_ID_PREFIX + "0123456789abcdef") + "tp")
    stream.queues["a"].put_nowait([sent_fill(), take_profit, fill()])
    await settle()
    assert work.recorded_sent == [[("a", 1)]]
    assert work.recorded == [("a", 2)]  # the TP and the order placed outside Mimic
    await holder.stop()


async def test_a_burst_that_was_not_stored_is_reconciled_on_the_next_refresh() -> None:
    holder, stream, work = await started([account("a"), account("b")])
    work.failing = ConnectionError("database away")
    stream.queues["a"].put_nowait([sent_fill()])
    stream.queues["b"].put_nowait([sent_fill()])
    await settle()
    assert work.recorded_sent == []
    assert holder.held == {"a", "b"}  # the streams go on
    work.failing = None
    await holder.refresh()
    await settle()
    assert sorted(a for a, _ in work.reconciled) == ["a", "b"]
    await holder.stop()
