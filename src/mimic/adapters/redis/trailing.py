"""Trailing state in Redis: every worker reads the same, and it outlives any of them."""

import json
from datetime import timedelta
from decimal import Decimal

from redis.asyncio import Redis

from mimic.domain.positions import PositionSide
from mimic.domain.trailing import TrailingState
from mimic.ports.protection import TrailingStateStore


class RedisTrailingStateStore(TrailingStateStore):
    """One JSON value per watched position under `prefix`; it expires after `ttl` without
    an update, so a position the monitor stopped seeing leaves nothing behind."""

    def __init__(
        self, redis: Redis, *, prefix: str = "mimic:trailing:", ttl: timedelta = timedelta(days=30)
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl

    async def load(self, key: str) -> TrailingState | None:
        raw = await self._redis.get(self._prefix + key)
        return None if raw is None else _decode(raw)

    async def save(self, key: str, state: TrailingState) -> None:
        await self._redis.set(self._prefix + key, _encode(state), ex=self._ttl)

    async def discard(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)


def _encode(state: TrailingState) -> str:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return json.dumps(
        {
            "side": state.side.value,
            "entry_price": str(state.entry_price),
            "best_price": text(state.best_price),
            "stop_price": text(state.stop_price),
            "hit_price": text(state.hit_price),
        }
    )


def _decode(raw: bytes | str) -> TrailingState:
    data = json.loads(raw)

    def number(name: str) -> Decimal | None:
        value = data.get(name)
        return None if value is None else Decimal(value)

    return TrailingState(
        side=PositionSide(data["side"]),
        entry_price=Decimal(data["entry_price"]),
        best_price=number("best_price"),
        stop_price=number("stop_price"),
        hit_price=number("hit_price"),
    )
