"""Account stream leases in Redis, shared by every worker of a deployment.

`<prefix>holders` is a sorted set of live workers scored by when their heartbeat runs out
(one lease period after it was sent, on Redis's clock); `<prefix><account id>` holds the id
of the worker streaming that account. An account is the worker's while that worker is
live: a refresh renews one key, the heartbeat, not one per account (renewing 50,000 keys
every 5 s was most of the cost of holding them). An account whose key is missing, or names
a worker whose heartbeat ran out, is free: a dead worker's accounts are taken at the others'
next refresh after its heartbeat runs out. A worker whose own heartbeat ran out (stalled
past it) checks every key it held when it is back and keeps only those still naming it.

Each worker holds at most its share (accounts / live workers, rounded up): a new worker
finds free accounts as the others give up what is above their share. The account keys
last `_KEEP_PERIODS` periods, renewed every quarter of that, only so that the keys of
accounts nobody holds any more (a worker that died) do not stay forever.
"""

import math
import random
import time
from collections.abc import Collection
from collections.abc import Set as AbstractSet
from datetime import timedelta

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from mimic.ports.account_events import StreamLeases

# KEYS[1] holders, KEYS[2] the count of accounts let go; ARGV holder, period ms. Returns the
# live workers, whether this one's heartbeat had run out (or was never sent: then what it
# held is checked key by key), and the count of accounts let go by any worker so far.
_HEARTBEAT = """
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local before = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
local lapsed = 0
if not before or tonumber(before) < now then lapsed = 1 end
return {redis.call('ZCARD', KEYS[1]), lapsed, tonumber(redis.call('GET', KEYS[2]) or 0)}
"""
# KEYS[1] holders, then accounts' keys; ARGV holder, keep ms, how many to take at most.
# Takes those that are free (see above), in the order given.
_TAKE = """
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local left = tonumber(ARGV[3])
local done = {}
for i = 2, #KEYS do
  done[i - 1] = 0
  if left > 0 then
    local owner = redis.call('GET', KEYS[i])
    local free = not owner or owner == ARGV[1]
    if not free then
      local until_ms = redis.call('ZSCORE', KEYS[1], owner)
      free = not until_ms or tonumber(until_ms) < now
    end
    if free then
      redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
      done[i - 1] = 1
      left = left - 1
    end
  end
end
return done
"""
# Renew (or give up) a key only while it names this worker: a worker back from a stall
# must not keep (or free) an account another took meanwhile.
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
# The accounts wanted, the live workers and the count of accounts let go, as a take saw them.
_Looked = tuple[AbstractSet[str], int, int]
_KEEP_PERIODS = 240  # an account key's life, in lease periods (an hour at 15 s)


class RedisStreamLeases(StreamLeases):
    def __init__(self, client: Redis, *, prefix: str, holder_id: str, period: timedelta) -> None:
        self._client = client
        self._prefix = prefix
        self._holder = holder_id
        self._period = period
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._take_free = client.register_script(_TAKE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._owned: set[str] = set()  # the accounts whose keys name this worker
        # Monotonic: when the account keys are checked and renewed next (0: at once).
        self._renew_at = 0.0
        # The last take that found too few free: what it looked at, and until when that
        # stands (monotonic).
        self._none_free: tuple[_Looked, float] | None = None

    @property
    def period(self) -> timedelta:
        return self._period

    async def hold(self, wanted: Collection[str], held: Collection[str]) -> set[str]:
        period_ms = int(self._period.total_seconds() * 1000)
        keep_ms = period_ms * _KEEP_PERIODS
        wanted = wanted if isinstance(wanted, AbstractSet) else set(wanted)
        held = set(held)
        live, lapsed, let_go_so_far = await self._heartbeat(
            keys=[self._prefix + "holders", self._prefix + "let-go"], args=[self._holder, period_ms]
        )
        looked = (wanted, int(live), int(let_go_so_far))
        if lapsed:  # others may have taken some meanwhile: checked before any is trusted
            self._renew_at = 0.0
            self._none_free = None
        # Held no more (removed, or stopped by the holder): free at once, not in an hour.
        let_go = (self._owned - held) | (held - wanted)
        if let_go:
            await self._let_go(let_go)
        kept = held.intersection(wanted)
        self._owned = set(kept)
        if lapsed or time.monotonic() >= self._renew_at:
            renewing = list(kept)
            renewed = await self._each(self._renew, renewing, keep_ms)
            kept = {a for a, ok in zip(renewing, renewed, strict=True) if ok}
            self._owned = set(kept)
            self._renew_at = time.monotonic() + self._period.total_seconds() * _KEEP_PERIODS / 4
        share = math.ceil(len(wanted) / max(int(live), 1)) if wanted else 0
        if len(kept) > share:  # a worker joined: give the others room
            extra = sorted(kept)[share:]
            await self._let_go(extra)
            kept -= set(extra)
            self._owned -= set(extra)
        missing = share - len(kept)
        if missing > 0 and not self._none_free_since(looked):
            taken = await self._take([a for a in wanted if a not in kept], missing, keep_ms)
            kept |= taken
            # Every candidate looked at and too few free (the accounts do not split evenly):
            # not again at every refresh, only once the accounts, the live workers or the
            # count of accounts let go change, or at the latest a period later.
            self._none_free = (
                (looked, time.monotonic() + self._period.total_seconds())
                if len(taken) < missing
                else None
            )
        return kept

    def _none_free_since(self, looked: _Looked) -> bool:
        if self._none_free is None:
            return False
        looked_then, until = self._none_free
        return time.monotonic() < until and looked_then == looked

    async def _let_go(self, account_ids: Collection[str]) -> None:
        """Frees these accounts' keys (those still naming this worker) and counts them, so
        that a worker short of its share looks for free accounts again."""
        if any(await self._each(self._release, account_ids, None)):
            await self._client.incr(self._prefix + "let-go")

    async def release(self, account_ids: Collection[str]) -> None:
        """A worker stopping: its accounts, and its place among the live ones, go at once."""
        await self._let_go(account_ids)
        self._owned.difference_update(account_ids)
        await self._client.zrem(self._prefix + "holders", self._holder)

    async def _take(self, candidates: list[str], wanted: int, keep_ms: int) -> set[str]:
        """Up to `wanted` of `candidates` that are free, in random order: workers taking
        at once then mostly try different accounts."""
        random.shuffle(candidates)
        taken: set[str] = set()
        holders = self._prefix + "holders"
        for start in range(0, len(candidates), _CHUNK):
            chunk = candidates[start : start + _CHUNK]
            keys = [holders, *(self._prefix + a for a in chunk)]
            done = await self._take_free(
                keys=keys, args=[self._holder, keep_ms, wanted - len(taken)]
            )
            took = [a for a, ok in zip(chunk, done, strict=True) if ok]
            taken.update(took)
            self._owned.update(took)  # at once: given up next time if this call fails later
            if len(taken) >= wanted:
                break
        return taken

    async def _each(
        self, script: AsyncScript, account_ids: Collection[str], expire_ms: int | None
    ) -> list[bool]:
        """Runs `script` on each account's key, one call per chunk."""
        ids = list(account_ids)
        args: list[str | int] = [self._holder]
        if expire_ms is not None:
            args.append(expire_ms)
        results: list[bool] = []
        for start in range(0, len(ids), _CHUNK):
            keys = [self._prefix + account_id for account_id in ids[start : start + _CHUNK]]
            results.extend(bool(r) for r in await script(keys=keys, args=args))
        return results
