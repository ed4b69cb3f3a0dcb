"""Live events over Redis Pub/Sub: any process publishes, every web process's channels
plugin (Redis Pub/Sub backend, same channel names) delivers to its open pages."""

import logging
from collections.abc import Sequence

from redis.asyncio import Redis

from mimic.adapters.live.wire import encode_event
from mimic.ports.live_events import LiveEvent, LiveEvents

log = logging.getLogger(__name__)


class RedisLiveEvents(LiveEvents):
    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def publish(self, audience: str, event: LiveEvent) -> None:
        await self.publish_many([(audience, event)])

    async def publish_many(self, items: Sequence[tuple[str, LiveEvent]]) -> None:
        if not items:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for audience, event in items:
                    pipe.publish(self._prefix + audience, encode_event(event))
                await pipe.execute()
        except Exception:  # the caller's work is committed; pages re-read on reconnect
            log.exception("%d live events not published", len(items))
