"""Streamed account state in Redis: written by the worker holding an account's stream,
read by whichever worker plans. One hash per account (`<prefix><account id>`), changed in
optimistic transactions (WATCH / MULTI): the stream's writer and Mimic's order senders
may change one account at once, and each change is a rule over all its fields."""

from collections.abc import Callable
from datetime import timedelta

from redis.asyncio import Redis
from redis.exceptions import WatchError
from redis.typing import EncodableT, FieldT

from mimic.adapters.streamed_state import Change, Fields, FieldStore

_ATTEMPTS = 20


class RedisStreamedAccounts(FieldStore):
    def __init__(
        self, client: Redis, *, prefix: str, orphan_ttl: timedelta = timedelta(minutes=10)
    ) -> None:
        super().__init__(orphan_ttl)
        self._client = client
        self._prefix = prefix

    async def _apply(self, account_id: str, rule: Callable[[Fields], Change]) -> int:
        key = self._prefix + account_id
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
        raise RuntimeError(f"streamed state of {account_id}: too many concurrent changes")

    async def _load(self, account_id: str) -> Fields:
        return _decoded(await self._client.hgetall(self._prefix + account_id))


def _decoded(raw: dict[bytes | str, bytes | str]) -> Fields:
    return {_text(k): _text(v) for k, v in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
