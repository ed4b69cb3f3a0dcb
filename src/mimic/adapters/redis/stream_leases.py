"""Account stream leases in Redis, shared by every worker of a deployment.

`<prefix><account id>` holds the id of the worker streaming that account, with a TTL of one
lease period; `<prefix>holders` is a sorted set of live workers scored by when their last
renewal runs out. Each worker holds at most its share (accounts / live workers, rounded
up): a new worker finds free accounts as the others give up what is above their share,
and a dead worker's leases run out within one period, after which the others take them.
"""

import math
import random
import time
from collections.abc import Collection
from datetime import timedelta

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from mimic.ports.account_events import StreamLeases

# Renew (or give up) a lease only while it is ours: a worker that stalled past its lease
# must not take back an account someone else holds now. One call per chunk of leases: a
# call per lease was most of a worker's time holding 50,000 streams (py-spy, fan-out bench).
_RENEW = """
local done = {}
for i, key in ipairs(KEYS) do
  done[i] = 0
  if redis.call('GET', key) == ARGV[1] then
    done[i] = redis.call('PEXPIRE', key, ARGV[2])
  end
end
return done
"""
_RELEASE = """
local done = {}
for i, key in ipairs(KEYS) do
  done[i] = 0
  if redis.call('GET', key) == ARGV[1] then
    done[i] = redis.call('DEL', key)
  end
end
return done
"""
_CHUNK = 1000  # keys per round trip


class RedisStreamLeases(StreamLeases):
    def __init__(self, client: Redis, *, prefix: str, holder_id: str, period: timedelta) -> None:
        self._client = client
        self._prefix = prefix
        self._holder = holder_id
        self._period = period
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @property
    def period(self) -> timedelta:
        return self._period

    async def hold(self, wanted: Collection[str], held: Collection[str]) -> set[str]:
        period_ms = int(self._period.total_seconds() * 1000)
        holders = await self._announce(period_ms)
        renewing = list(held)
        renewed = await self._each(self._renew, renewing, period_ms)
        kept = {a for a, ok in zip(renewing, renewed, strict=True) if ok}
        share = math.ceil(len(wanted) / holders) if wanted else 0
        if len(kept) > share:  # a worker joined: give the others room
            extra = sorted(kept)[share:]
            await self._each(self._release, extra, None)
            kept -= set(extra)
        missing = share - len(kept)
        if missing > 0:
            kept |= await self._take([a for a in wanted if a not in kept], missing, period_ms)
        return kept

    async def release(self, account_ids: Collection[str]) -> None:
        """A worker stopping: its accounts, and its place among the live ones, go at once."""
        await self._each(self._release, account_ids, None)
        await self._client.zrem(self._prefix + "holders", self._holder)

    async def _announce(self, period_ms: int) -> int:
        """Registers this worker as live for a period; returns how many are live."""
        key = self._prefix + "holders"
        now_ms = int(time.time() * 1000)
        pipe = self._client.pipeline(transaction=False)
        pipe.zadd(key, {self._holder: now_ms + period_ms})
        pipe.zremrangebyscore(key, "-inf", now_ms)
        pipe.zcard(key)
        *_, live = await pipe.execute()
        return max(int(live), 1)

    async def _take(self, candidates: list[str], wanted: int, period_ms: int) -> set[str]:
        """Up to `wanted` of `candidates` that nobody holds, in random order: workers
        taking at once then mostly try different accounts."""
        random.shuffle(candidates)
        taken: set[str] = set()
        for start in range(0, len(candidates), _CHUNK):
            chunk = candidates[start : start + _CHUNK]
            owners = await self._client.mget([self._prefix + a for a in chunk])
            free = [a for a, owner in zip(chunk, owners, strict=True) if owner is None]
            free = free[: wanted - len(taken)]
            pipe = self._client.pipeline(transaction=False)
            for account_id in free:
                pipe.set(self._prefix + account_id, self._holder, nx=True, px=period_ms)
            results = await pipe.execute() if free else []
            taken.update(a for a, ok in zip(free, results, strict=True) if ok)
            if len(taken) >= wanted:
                break
        return taken

    async def _each(
        self, script: AsyncScript, account_ids: Collection[str], period_ms: int | None
    ) -> list[bool]:
        """Runs `script` on each account's lease, one call per chunk."""
        ids = list(account_ids)
        args: list[str | int] = [self._holder]
        if period_ms is not None:
            args.append(period_ms)
        results: list[bool] = []
        for start in range(0, len(ids), _CHUNK):
            keys = [self._prefix + account_id for account_id in ids[start : start + _CHUNK]]
            results.extend(bool(r) for r in await script(keys=keys, args=args))
        return results
