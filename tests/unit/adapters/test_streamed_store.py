"""An order's mark that the store did not take (it was away at that moment): the order
went out anyway, so the state must not be read as current once the store answers again.
Two workers share one store here: `sender` sends Mimic's orders, `planner` reads."""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from mimic.adapters.memory.streamed_accounts import InMemoryStreamedAccounts
from mimic.adapters.streamed_state import Change, Fields
from mimic.adapters.streamed_store import MarksNotWritten
from mimic.ports.streamed_accounts import PositionReport, StreamedAccounts, SymbolState

TTL = timedelta(seconds=30)
ACCOUNT = "account-1"
BTC = "BTCUSDT"
RETRIED_WITHIN = 2.0  # seconds: the late marks are retried every 0.5 s


class FlakyStore(InMemoryStreamedAccounts):
    """One worker's view of the shared store, away for it while `away`."""

    away = False

    async def _apply(self, account_id: str, rule: Callable[[Fields], Change]) -> int:
        if self.away:
            raise ConnectionError("the store is away")
        return await super()._apply(account_id, rule)

    async def _load(self, account_id: str) -> Fields:
        if self.away:
            raise ConnectionError("the store is away")
        return await super()._load(account_id)


@pytest.fixture
async def sender() -> FlakyStore:
    return FlakyStore(orphan_ttl=TTL)


@pytest.fixture
async def planner(sender: FlakyStore) -> InMemoryStreamedAccounts:
    other = InMemoryStreamedAccounts(orphan_ttl=TTL)
    other._accounts = sender._accounts  # the same store, another worker
    return other


def long(amount: str, at_ms: int) -> PositionReport:
    return PositionReport(BTC, "BOTH", Decimal(amount), Decimal("100"), at_ms)


async def live(store: StreamedAccounts, position: PositionReport) -> None:
    await store.connected(ACCOUNT, "s1", TTL)
    await store.seeded(ACCOUNT, "s1", [position], {BTC: 10}, await store.rest_token(ACCOUNT))


async def send_order(store: StreamedAccounts, away_at: str, answered_ms: int | None) -> None:
    """As BinanceUsdmGateway.place_market_order: the order goes out whatever the store
    says; `away_at`: the call during which the store is away ("sending", "answer")."""
    flaky = store if isinstance(store, FlakyStore) else None
    assert flaky is not None
    flaky.away = away_at == "sending"
    token = await store.order_sending(ACCOUNT, BTC)  # never fails
    flaky.away = away_at == "answer"
    await store.order_answered(ACCOUNT, BTC, token, answered_ms)
    flaky.away = False


async def read_soon(store: StreamedAccounts, expected: SymbolState | None) -> None:
    """The state reads `expected` within the late marks' retry."""
    deadline = asyncio.get_running_loop().time() + RETRIED_WITHIN
    while await store.read(ACCOUNT, BTC) != expected:
        assert asyncio.get_running_loop().time() < deadline, await store.read(ACCOUNT, BTC)
        await asyncio.sleep(0.05)


async def test_a_mark_that_failed_holds_the_symbol_once_the_store_answers(
    sender: FlakyStore, planner: InMemoryStreamedAccounts
) -> None:
    await live(sender, long("1", 10))
    await send_order(sender, "sending", answered_ms=20)
    # The sender does nothing more: its retry writes the mark, answered at 20.
    await read_soon(planner, None)
    await asyncio.sleep(0.6)
    assert await planner.read(ACCOUNT, BTC) is None  # still: the stream never told 20
    await sender.update(ACCOUNT, "s1", [long("2", 20)], {}, TTL)
    assert await planner.read(ACCOUNT, BTC) == SymbolState((long("2", 20),), 10)


async def test_the_sender_itself_reads_nothing_before_its_late_marks_are_written(
    sender: FlakyStore,
) -> None:
    await live(sender, long("1", 10))
    sender.away = True
    token = await sender.order_sending(ACCOUNT, BTC)  # never fails: kept here
    await sender.order_answered(ACCOUNT, BTC, token, None)
    with pytest.raises(MarksNotWritten):
        await sender.read(ACCOUNT, "ETHUSDT")  # not before its marks: REST
    sender.away = False
    # Written before the read, at once: an unknown outcome waits for a REST read.
    assert await sender.read(ACCOUNT, BTC) is None
    await sender.update(ACCOUNT, "s1", [long("2", 20)], {}, TTL)
    assert await sender.read(ACCOUNT, BTC) is None
    begun = await sender.rest_token(ACCOUNT)
    await sender.refreshed(ACCOUNT, BTC, [long("2", 21)], 10, begun)
    assert await sender.read(ACCOUNT, BTC) == SymbolState((long("2", 21),), 10)


async def test_an_answer_that_failed_is_written_once_the_store_answers(
    sender: FlakyStore, planner: InMemoryStreamedAccounts
) -> None:
    await live(sender, long("1", 10))
    await send_order(sender, "answer", answered_ms=20)
    await read_soon(planner, None)
    await asyncio.sleep(0.6)  # the answer written by then
    # The stream told the fill: usable again (an answer never written held it for good).
    await sender.update(ACCOUNT, "s1", [long("2", 20)], {}, TTL)
    assert await planner.read(ACCOUNT, BTC) == SymbolState((long("2", 20),), 10)


async def test_a_late_mark_of_an_order_still_in_flight_waits_for_its_answer(
    sender: FlakyStore, planner: InMemoryStreamedAccounts
) -> None:
    await live(sender, long("1", 10))
    sender.away = True
    token = await sender.order_sending(ACCOUNT, BTC)
    sender.away = False
    await read_soon(planner, None)  # written as in flight
    await sender.update(ACCOUNT, "s1", [long("1", 30)], {}, TTL)  # before the fill
    begun = await sender.rest_token(ACCOUNT)
    await sender.refreshed(ACCOUNT, BTC, [long("1", 31)], 10, begun)
    assert await planner.read(ACCOUNT, BTC) is None  # in flight: nothing releases it
    await sender.order_answered(ACCOUNT, BTC, token, 40)
    assert await planner.read(ACCOUNT, BTC) is None
    await sender.update(ACCOUNT, "s1", [long("2", 40)], {}, TTL)
    assert await planner.read(ACCOUNT, BTC) == SymbolState((long("2", 40),), 10)


async def test_the_stream_that_told_the_fill_already_frees_a_late_mark(
    sender: FlakyStore, planner: InMemoryStreamedAccounts
) -> None:
    await live(sender, long("1", 10))
    sender.away = True
    token = await sender.order_sending(ACCOUNT, BTC)
    await sender.order_answered(ACCOUNT, BTC, token, 20)
    sender.away = False
    await planner.update(ACCOUNT, "s1", [long("2", 20)], {}, TTL)  # the holder, elsewhere
    await asyncio.sleep(0.6)
    assert await planner.read(ACCOUNT, BTC) == SymbolState((long("2", 20),), 10)
    assert not sender._late


async def test_nothing_of_the_account_is_changed_before_its_late_marks(
    sender: FlakyStore,
) -> None:
    await live(sender, long("1", 10))
    sender.away = True
    await sender.order_sending(ACCOUNT, BTC)
    await sender.aclose()  # no retry: only the next call writes them
    with pytest.raises(MarksNotWritten):
        await sender.update(ACCOUNT, "s1", [long("2", 20)], {}, TTL)
    sender.away = False
    await sender.update(ACCOUNT, "s1", [long("1", 15)], {}, TTL)
    assert await sender.read(ACCOUNT, BTC) is None  # the mark came first: in flight


async def test_a_drop_that_failed_reaches_the_store_once_it_answers(
    sender: FlakyStore, planner: InMemoryStreamedAccounts
) -> None:
    """The stream's holder lost a write (its gap never mended) and could not say so."""
    await live(sender, long("1", 10))
    sender.away = True
    await sender.dropped(ACCOUNT, "s1")  # never fails
    sender.away = False
    await read_soon(planner, None)
    # The next connection claims the state after the drop, never before it.
    await sender.connected(ACCOUNT, "s2", TTL)
    await sender.seeded(ACCOUNT, "s2", [long("2", 30)], {BTC: 10}, await sender.rest_token(ACCOUNT))
    assert await planner.read(ACCOUNT, BTC) == SymbolState((long("2", 30),), 10)
    assert not sender._late_drops


async def test_a_late_drop_and_a_late_mark_are_written_together(
    sender: FlakyStore, planner: InMemoryStreamedAccounts
) -> None:
    await live(sender, long("1", 10))
    sender.away = True
    token = await sender.order_sending(ACCOUNT, BTC)
    await sender.dropped(ACCOUNT, "s1")
    await sender.aclose()
    sender.away = False
    await sender.connected(ACCOUNT, "s2", TTL)  # writes the drop and the mark first
    await sender.seeded(ACCOUNT, "s2", [long("1", 30)], {BTC: 10}, await sender.rest_token(ACCOUNT))
    assert await planner.read(ACCOUNT, BTC) is None  # the order, still in flight, holds it
    await sender.order_answered(ACCOUNT, BTC, token, 40)
    await sender.update(ACCOUNT, "s2", [long("2", 40)], {}, TTL)
    assert await planner.read(ACCOUNT, BTC) == SymbolState((long("2", 40),), 10)
