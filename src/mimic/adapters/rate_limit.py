"""Fixed-window rate limiters: in-process, or shared by every process through Redis."""

import asyncio
import logging
import time
from datetime import timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError

from mimic.ports.accounts import RateLimiter

log = logging.getLogger(__name__)

# INCR and the window's expiry in one step, so a crash between them cannot leave a
# counter that never expires; returns the count and the milliseconds left in the window.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""


# A request never waits longer than this on a slow or hung Redis for its rate limit.
REDIS_RATE_LIMIT_TIMEOUT = timedelta(milliseconds=100)


class RedisRateLimiter(RateLimiter):
    """Fails open: while Redis is unreachable or slower than `timeout`, requests pass (and
    the failure is logged); the lockout of an account lives in the database and keeps
    working."""

    def __init__(
        self, redis: Redis, prefix: str, *, timeout: timedelta = REDIS_RATE_LIMIT_TIMEOUT
    ) -> None:
        self._prefix = prefix
        self._hit = redis.register_script(_HIT)
        self._timeout = timeout.total_seconds()

    async def hit(self, key: str, limit: int, window: timedelta) -> float | None:
        window_ms = max(1, int(window.total_seconds() * 1000))
        try:
            async with asyncio.timeout(self._timeout):
                count, ttl_ms = await self._hit(keys=[self._prefix + key], args=[window_ms])
        except (RedisError, OSError) as exc:  # TimeoutError included
            log.warning("rate limit not checked, Redis failed: %s", exc.__class__.__name__)
            return None
        return None if int(count) <= limit else int(ttl_ms) / 1000


class MemoryRateLimiter(RateLimiter):
    """One process only (the embedded default); forgets windows that have passed."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}

    async def hit(self, key: str, limit: int, window: timedelta) -> float | None:
        now = time.monotonic()
        count, ends = self._windows.get(key, (0, 0.0))
        if now >= ends:
            count, ends = 0, now + window.total_seconds()
            if len(self._windows) > 100_000:
                self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        self._windows[key] = (count + 1, ends)
        return None if count + 1 <= limit else ends - now
