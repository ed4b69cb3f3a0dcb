"""A Redis blip exactly when an order's mark is written, on a Redis of the test's own: the
order goes out anyway, and another worker must not read the state from before it as
current once Redis answers again (sooner than the sender's 5 s pause after a failure)."""

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from redis.asyncio import Redis

from mimic.adapters.ccxt.streamed_positions import best_effort
from mimic.adapters.redis.streamed_accounts import RedisStreamedAccounts
from mimic.ports.streamed_accounts import PositionReport, SymbolState
from tests.integration.private_redis import private_redis

TTL = timedelta(seconds=30)
ACCOUNT = "account-1"
BTC = "BTCUSDT"
PREFIX = "test:accounts:"


def long(amount: str, at_ms: int) -> PositionReport:
    return PositionReport(BTC, "BOTH", Decimal(amount), Decimal("100"), at_ms)


async def test_a_mark_lost_in_a_blip_reaches_the_other_workers_once_redis_answers(
    tmp_path: Path,
) -> None:
    with private_redis(tmp_path) as server:
        sending = Redis.from_url(server.url, socket_connect_timeout=0.3, socket_timeout=0.3)
        planning = Redis.from_url(server.url, socket_connect_timeout=0.3, socket_timeout=0.3)
        sender = RedisStreamedAccounts(sending, prefix=PREFIX, orphan_ttl=TTL)
        planner = RedisStreamedAccounts(planning, prefix=PREFIX, orphan_ttl=TTL)
        try:
            await planner.connected(ACCOUNT, "s1", TTL)
            begun = await planner.rest_token(ACCOUNT)
            await planner.seeded(ACCOUNT, "s1", [long("1", 10)], {BTC: 10}, begun)

            server.pause()  # hung: the mark times out
            token = await best_effort("order mark", lambda: sender.order_sending(ACCOUNT, BTC))
            # The order goes out and is answered at 20 while Redis is still away.
            if token is not None:
                mark = token
                await best_effort(
                    "order answer", lambda: sender.order_answered(ACCOUNT, BTC, mark, 20)
                )
            server.resume()

            loop = asyncio.get_running_loop()
            deadline = loop.time() + 2.0  # well within the sender's 5 s pause
            while (state := await planner.read(ACCOUNT, BTC)) is not None:
                assert state == SymbolState((long("1", 10),), 10)
                assert loop.time() < deadline, "the order's mark never reached Redis"
                await asyncio.sleep(0.05)
            # Until the stream tells the fill, then from it.
            await planner.update(ACCOUNT, "s1", [long("1", 19)], {}, TTL)
            assert await planner.read(ACCOUNT, BTC) is None
            await planner.update(ACCOUNT, "s1", [long("2", 20)], {}, TTL)
            assert await planner.read(ACCOUNT, BTC) == SymbolState((long("2", 20),), 10)
        finally:
            await sender.aclose()
            await sending.aclose()
            await planning.aclose()
