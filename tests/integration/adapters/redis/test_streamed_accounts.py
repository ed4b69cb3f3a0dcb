"""The streamed account state's contract, the same cases on the in-memory store (embedded)
and on the real Redis (workers): each rule of ports.streamed_accounts, one case at least."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest
from redis.asyncio import Redis

from mimic.adapters.memory.streamed_accounts import InMemoryStreamedAccounts
from mimic.adapters.redis.streamed_accounts import RedisStreamedAccounts
from mimic.ports.streamed_accounts import PositionReport, StreamedAccounts, SymbolState
from tests.conftest import REDIS_URL

TTL = timedelta(seconds=30)
ACCOUNT = "account-1"


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[StreamedAccounts]:
    if request.param == "memory":
        yield InMemoryStreamedAccounts(orphan_ttl=TTL)
        return
    client = Redis.from_url(REDIS_URL)
    yield RedisStreamedAccounts(client, prefix=f"test:{uuid.uuid4().hex}:state:", orphan_ttl=TTL)
    await client.aclose()


def long(amount: str, at_ms: int, symbol: str = "BTCUSDT") -> PositionReport:
    return PositionReport(symbol, "BOTH", Decimal(amount), Decimal("100"), at_ms)


async def live(store: StreamedAccounts, stream: str = "s1", *positions: PositionReport) -> None:
    await store.connected(ACCOUNT, stream, TTL)
    await store.seeded(ACCOUNT, stream, positions, {"BTCUSDT": 10}, await store.rest_token(ACCOUNT))


async def test_nothing_is_usable_before_a_seed(store: StreamedAccounts) -> None:
    assert await store.read(ACCOUNT, "BTCUSDT") is None
    await store.connected(ACCOUNT, "s1", TTL)
    await store.update(ACCOUNT, "s1", [long("1", 10)], {}, TTL)
    assert await store.read(ACCOUNT, "BTCUSDT") is None  # events alone: the rest unknown
    await store.seeded(ACCOUNT, "s1", [], {"BTCUSDT": 10}, await store.rest_token(ACCOUNT))
    assert await store.read(ACCOUNT, "BTCUSDT") == SymbolState((long("1", 10),), 10)


async def test_a_seed_lists_what_is_open_and_the_rest_is_flat(store: StreamedAccounts) -> None:
    await live(store, "s1", long("0.5", 5))
    assert await store.read(ACCOUNT, "BTCUSDT") == SymbolState((long("0.5", 5),), 10)
    assert await store.read(ACCOUNT, "ETHUSDT") == SymbolState((), None)


async def test_an_older_report_changes_nothing(store: StreamedAccounts) -> None:
    await store.connected(ACCOUNT, "s1", TTL)
    await store.update(ACCOUNT, "s1", [long("2", 20)], {}, TTL)
    # The seed read by REST before that event landed after it: the event is newer.
    await store.seeded(ACCOUNT, "s1", [long("1", 15)], {}, await store.rest_token(ACCOUNT))
    await store.update(ACCOUNT, "s1", [long("3", 19)], {}, TTL)
    state = await store.read(ACCOUNT, "BTCUSDT")
    assert state is not None
    assert state.positions == (long("2", 20),)
    await store.update(ACCOUNT, "s1", [long("0", 20)], {}, TTL)  # the same time: in order
    state = await store.read(ACCOUNT, "BTCUSDT")
    assert state is not None
    assert state.positions == (long("0", 20),)


async def test_leverage_from_the_stream_outranks_the_seed(store: StreamedAccounts) -> None:
    await store.connected(ACCOUNT, "s1", TTL)
    await store.update(ACCOUNT, "s1", [], {"BTCUSDT": 25}, TTL)
    await store.seeded(ACCOUNT, "s1", [], {"BTCUSDT": 10}, await store.rest_token(ACCOUNT))
    state = await store.read(ACCOUNT, "BTCUSDT")
    assert state is not None
    assert state.leverage == 25


async def test_a_new_connection_forgets_the_old_one(store: StreamedAccounts) -> None:
    await live(store, "s1", long("1", 10))
    await store.connected(ACCOUNT, "s2", TTL)
    assert await store.read(ACCOUNT, "BTCUSDT") is None
    assert not await store.update(ACCOUNT, "s1", [long("5", 30)], {}, TTL)  # the old, late
    assert not await store.renew(ACCOUNT, "s1", TTL)
    await store.seeded(ACCOUNT, "s2", [], {}, await store.rest_token(ACCOUNT))
    assert await store.read(ACCOUNT, "BTCUSDT") == SymbolState((), None)


async def test_a_dropped_stream_is_unusable_at_once(store: StreamedAccounts) -> None:
    await live(store, "s1", long("1", 10))
    await store.dropped(ACCOUNT, "s1")
    assert await store.read(ACCOUNT, "BTCUSDT") is None
    await store.update(ACCOUNT, "s1", [long("1", 11)], {}, TTL)
    assert await store.read(ACCOUNT, "BTCUSDT") is None


async def test_the_state_expires_unless_renewed(store: StreamedAccounts) -> None:
    short = timedelta(milliseconds=300)
    await store.connected(ACCOUNT, "s1", short)
    await store.seeded(ACCOUNT, "s1", [], {}, await store.rest_token(ACCOUNT))
    await asyncio.sleep(0.2)
    await store.renew(ACCOUNT, "s1", short)
    await asyncio.sleep(0.2)
    assert await store.read(ACCOUNT, "BTCUSDT") is not None  # renewed in time
    await store.renew(ACCOUNT, "other", short)  # not its writer: no renewal
    await asyncio.sleep(0.2)
    assert await store.read(ACCOUNT, "BTCUSDT") is None


async def test_an_order_holds_its_symbol_until_the_stream_reports_after_its_answer(
    store: StreamedAccounts,
) -> None:
    await live(store, "s1", long("1", 10))
    token = await store.order_sending(ACCOUNT, "BTCUSDT")
    assert await store.read(ACCOUNT, "BTCUSDT") is None
    assert await store.read(ACCOUNT, "ETHUSDT") is not None  # only its symbol
    await store.update(ACCOUNT, "s1", [long("1.5", 40)], {}, TTL)  # in flight: not enough
    assert await store.read(ACCOUNT, "BTCUSDT") is None
    await store.order_answered(ACCOUNT, "BTCUSDT", token, 50)
    await store.update(ACCOUNT, "s1", [long("1.5", 49)], {}, TTL)  # before the answer
    assert await store.read(ACCOUNT, "BTCUSDT") is None
    await store.update(ACCOUNT, "s1", [long("2", 50)], {}, TTL)
    assert await store.read(ACCOUNT, "BTCUSDT") == SymbolState((long("2", 50),), 10)


async def test_a_stream_that_reported_before_the_answer_came_frees_the_symbol_at_once(
    store: StreamedAccounts,
) -> None:
    await live(store, "s1", long("1", 10))
    token = await store.order_sending(ACCOUNT, "BTCUSDT")
    await store.update(ACCOUNT, "s1", [long("2", 50)], {}, TTL)  # the fill, told first
    await store.order_answered(ACCOUNT, "BTCUSDT", token, 50)
    assert await store.read(ACCOUNT, "BTCUSDT") == SymbolState((long("2", 50),), 10)
    token = await store.order_sending(ACCOUNT, "BTCUSDT")
    await store.order_answered(ACCOUNT, "BTCUSDT", token, 51)  # not reported yet
    assert await store.read(ACCOUNT, "BTCUSDT") is None


async def test_an_unknown_outcome_waits_for_a_rest_read_begun_after_it(
    store: StreamedAccounts,
) -> None:
    await live(store, "s1", long("1", 10))
    token = await store.order_sending(ACCOUNT, "BTCUSDT")
    during = await store.rest_token(ACCOUNT)  # a REST read begun while the order was out
    await store.order_answered(ACCOUNT, "BTCUSDT", token, None)
    await store.update(ACCOUNT, "s1", [long("2", 99)], {}, TTL)
    assert await store.read(ACCOUNT, "BTCUSDT") is None  # the stream alone is not enough
    await store.refreshed(ACCOUNT, "BTCUSDT", [long("1", 11)], 10, during)
    assert await store.read(ACCOUNT, "BTCUSDT") is None  # it may not have seen the order
    after = await store.rest_token(ACCOUNT)
    await store.refreshed(ACCOUNT, "BTCUSDT", [long("2", 100)], 10, after)
    assert await store.read(ACCOUNT, "BTCUSDT") == SymbolState((long("2", 100),), 10)


async def test_an_order_in_flight_outlasts_rest_reads_and_reconnections(
    store: StreamedAccounts,
) -> None:
    await live(store, "s1")
    await store.order_sending(ACCOUNT, "BTCUSDT")
    await store.refreshed(ACCOUNT, "BTCUSDT", [], 10, await store.rest_token(ACCOUNT))
    await store.connected(ACCOUNT, "s2", TTL)
    await store.seeded(ACCOUNT, "s2", [], {}, await store.rest_token(ACCOUNT))
    assert await store.read(ACCOUNT, "BTCUSDT") is None
    assert await store.read(ACCOUNT, "ETHUSDT") is not None


async def test_a_refresh_fills_in_what_the_stream_did_not_know(store: StreamedAccounts) -> None:
    await live(store, "s1")
    await store.update(ACCOUNT, "s1", [long("1", 10, "ETHUSDT")], {}, TTL)
    state = await store.read(ACCOUNT, "ETHUSDT")
    assert state is not None
    assert state.leverage is None
    await store.refreshed(
        ACCOUNT, "ETHUSDT", [long("1", 10, "ETHUSDT")], 7, await store.rest_token(ACCOUNT)
    )
    state = await store.read(ACCOUNT, "ETHUSDT")
    assert state is not None
    assert state.leverage == 7
