"""A Redis blip exactly when an order's mark is written, on a Redis of the test's own: the
order goes out anyway, and another worker must not read the state from before it as
current once Redis answers again (sooner than the sender's 5 s pause after a failure)."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from redis.asyncio import Redis

from mimic.adapters.ccxt.streamed_positions import best_effort
from mimic.adapters.redis.streamed_accounts import RedisStreamedAccounts
from mimic.ports.streamed_accounts import PositionReport, SymbolState
from tests.integration.private_redis import PrivateRedis, private_redis

TTL = timedelta(seconds=30)
ACCOUNT = "account-1"
BTC = "BTCUSDT"
PREFIX = "test:accounts:"


Workers = tuple[PrivateRedis, RedisStreamedAccounts, RedisStreamedAccounts]


def long(amount: str, at_ms: int) -> PositionReport:
    return PositionReport(BTC, "BOTH", Decimal(amount), Decimal("100"), at_ms)


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[Workers]:
    """A private Redis, the worker that writes (its connection blips) and one that plans;
    the account's state seeded: long 1 at 10."""
    with private_redis(tmp_path) as server:
        writing = Redis.from_url(server.url, socket_connect_timeout=0.3, socket_timeout=0.3)
        planning = Redis.from_url(server.url, socket_connect_timeout=0.3, socket_timeout=0.3)
        writer = RedisStreamedAccounts(writing, prefix=PREFIX, orphan_ttl=TTL)
        planner = RedisStreamedAccounts(planning, prefix=PREFIX, orphan_ttl=TTL)
        try:
            await writer.connected(ACCOUNT, "s1", TTL)
            begun = await writer.rest_token(ACCOUNT)
            await writer.seeded(ACCOUNT, "s1", [long("1", 10)], {BTC: 10}, begun)
            yield server, writer, planner
        finally:
            await writer.aclose()
            await writing.aclose()
            await planning.aclose()


async def read_as_before_until_none(planner: RedisStreamedAccounts, what: str) -> None:
    """The state from before reads as it was (nothing to do about that while Redis does
    not answer the writer) until the writer's late write lands, well within its 5 s pause."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.0
    while (state := await planner.read(ACCOUNT, BTC)) is not None:
        assert state == SymbolState((long("1", 10),), 10)
        assert loop.time() < deadline, f"{what} never reached Redis"
        await asyncio.sleep(0.05)


async def test_a_mark_lost_in_a_blip_reaches_the_other_workers_once_redis_answers(
    workers: Workers,
) -> None:
    server, sender, planner = workers
    server.pause()  # hung: the mark times out
    token = await sender.order_sending(ACCOUNT, BTC)  # never fails
    # The order goes out and is answered at 20 while Redis is still away.
    await sender.order_answered(ACCOUNT, BTC, token, 20)
    server.resume()
    await read_as_before_until_none(planner, "the order's mark")
    # Until the stream tells the fill, then from it.
    await sender.update(ACCOUNT, "s1", [long("1", 19)], {}, TTL)
    assert await planner.read(ACCOUNT, BTC) is None
    await sender.update(ACCOUNT, "s1", [long("2", 20)], {}, TTL)
    assert await planner.read(ACCOUNT, BTC) == SymbolState((long("2", 20),), 10)


async def test_a_drop_lost_in_a_blip_reaches_the_other_workers_once_redis_answers(
    workers: Workers,
) -> None:
    """The stream's holder could not write an update (a gap) nor say it dropped the state."""
    server, holder, planner = workers
    server.pause()
    lost = await best_effort(
        "update", lambda: holder.update(ACCOUNT, "s1", [long("0", 20)], {}, TTL)
    )
    assert lost is None
    await holder.dropped(ACCOUNT, "s1")  # never fails
    server.resume()
    await read_as_before_until_none(planner, "the drop")
