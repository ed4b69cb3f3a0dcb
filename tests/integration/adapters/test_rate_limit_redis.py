"""The Redis rate limiter against real Redis: counts shared by clients, windows expire, and
it lets requests through when Redis is gone."""

import asyncio
import time
import uuid
from datetime import timedelta

import redis.asyncio as aioredis

from mimic.adapters.rate_limit import RedisRateLimiter
from tests.stubs.smtp import free_port


async def test_redis_limiter_shares_counts_and_reopens_after_the_window(redis_url: str) -> None:
    prefix = f"mimic-test-{uuid.uuid4().hex[:8]}:"
    first, second = aioredis.Redis.from_url(redis_url), aioredis.Redis.from_url(redis_url)
    try:
        a, b = RedisRateLimiter(first, prefix), RedisRateLimiter(second, prefix)
        window = timedelta(milliseconds=300)
        assert await a.hit("login:ip:x", 2, window) is None
        assert await b.hit("login:ip:x", 2, window) is None
        wait = await a.hit("login:ip:x", 2, window)
        assert wait is not None
        assert 0 < wait <= 0.3
        assert await b.hit("login:ip:y", 2, window) is None  # another key, its own count
        deadline = time.monotonic() + wait + 5
        while await first.exists(f"{prefix}login:ip:x"):  # until Redis ends the window
            assert time.monotonic() < deadline, "the window never expired"
            await asyncio.sleep(0.01)
        assert await b.hit("login:ip:x", 2, window) is None
    finally:
        await first.delete(f"{prefix}login:ip:x", f"{prefix}login:ip:y")
        await first.aclose()
        await second.aclose()


async def test_redis_limiter_fails_open_when_redis_is_unreachable() -> None:
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        limiter = RedisRateLimiter(client, "mimic-test:")
        assert await limiter.hit("login:ip:x", 1, timedelta(minutes=1)) is None
    finally:
        await client.aclose()
