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
from mimic.domain.orders import OrderSide
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
    def __init__(self, accounts: list[ExchangeAccount]) -> None:
        self.listed = accounts
        self.recorded: list[tuple[str, int]] = []
        self.reconciled: list[tuple[str, datetime]] = []

    async def accounts(self) -> list[ExchangeAccount]:
        return self.listed

    async def record(self, account: ExchangeAccount, events: Sequence[AccountEvent]) -> None:
        self.recorded.append((account.id, len(events)))

    async def reconcile(self, account: ExchangeAccount, since: datetime) -> None:
        self.reconciled.append((account.id, since))


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
