"""Streamed account state in Redis: written by the worker holding an account's stream,
read by whichever worker plans. One hash per account (`<prefix><account id>`), changed in
optimistic transactions (WATCH / MULTI): the stream's writer and Mimic's order senders
may change one account at once, and each change is a rule over all its fields."""

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError
from redis.typing import EncodableT, FieldT

from mimic.adapters.streamed_state import Change, Fields
from mimic.adapters.streamed_store import FieldStore

_ATTEMPTS = 20
# After Redis failed to answer, it is not asked again for this long: each caller would wait
# out its timeout (planning 1,000 followers, every order), and each falls back to REST.
_AWAY_SECONDS = 5.0


class RedisStreamedAccounts(FieldStore):
    def __init__(
        self, client: Redis, *, prefix: str, orphan_ttl: timedelta = timedelta(minutes=10)
    ) -> None:
        super().__init__(orphan_ttl)
        self._client = client
        self._prefix = prefix
        self._away_until = 0.0

    @contextlib.asynccontextmanager
    async def _reachable(self, *, now: bool = False) -> AsyncIterator[None]:
        """`now`: asked even within its pause after a failure."""
        if not now and time.monotonic() < self._away_until:
            raise RedisError("streamed account state: Redis failed moments ago")
        try:
            yield
        except (RedisError, OSError):
            self._away_until = time.monotonic() + _AWAY_SECONDS
            raise

    async def _apply(self, account_id: str, rule: Callable[[Fields], Change]) -> int:
        async with self._reachable():
            return await self._transaction(self._prefix + account_id, rule)

    async def _apply_now(self, account_id: str, rule: Callable[[Fields], Change]) -> int:
        async with self._reachable(now=True):
            result = await self._transaction(self._prefix + account_id, rule)
        self._away_until = 0.0  # it answers again: so it does for every caller
        return result

    async def _transaction(self, key: str, rule: Callable[[Fields], Change]) -> int:
        for _ in range(_ATTEMPTS):
            async with self._client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    before = _decoded(await pipe.hgetall(key))
                    expiry = await pipe.pttl(key) if before else -2
                    change = rule(before)
                    after = change.fields
                    pipe.multi()  # type: ignore[no-untyped-call]
                    removed = [k for k in before if k not in after]
                    if removed:
                        pipe.hdel(key, *removed)
                    changed: dict[FieldT, EncodableT] = {
                        k: v for k, v in after.items() if before.get(k) != v
                    }
                    if changed:
                        pipe.hset(key, mapping=changed)
                    ttl = change.expire
                    if ttl is None and change.expire_if_none is not None and expiry < 0:
                        ttl = change.expire_if_none
                    if ttl is not None and after:
                        pipe.pexpire(key, int(ttl.total_seconds() * 1000))
                    await pipe.execute()
                    return change.result
                except WatchError:
                    continue
        raise RuntimeError(f"streamed state {key}: too many concurrent changes")

    async def _load(self, account_id: str) -> Fields:
        async with self._reachable():
            return _decoded(await self._client.hgetall(self._prefix + account_id))


def _decoded(raw: dict[bytes | str, bytes | str]) -> Fields:
    return {_text(k): _text(v) for k, v in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
