"""Live events over Redis Pub/Sub: any process publishes, every web process reads the
channels of the audiences it has pages open for (Litestar's Pub/Sub channels backend) and
hands what it reads to its pages."""

import logging
from collections.abc import Callable, Sequence

from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis

from mimic.adapters.live.pages import PageFeed
from mimic.adapters.live.wire import encode_events
from mimic.ports.live_events import LiveEvent, LiveEvents

log = logging.getLogger(__name__)

# A fan-out settles thousands of orders at once. One PUBLISH command each, even pipelined,
# costs the publisher a reply to read and parse per event (a third of a worker's own time
# in a 10,000-follower fan-out); this script publishes a chunk of them in one round trip.
_PUBLISH_ALL = """
for i = 1, #ARGV, 2 do
    redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
return 0
"""
# Redis runs a script alone: a chunk's publishes (about a microsecond each when nobody
# listens) hold everybody else for a millisecond at the most.
CHUNK = 1000


class RedisLiveEvents(LiveEvents):
    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._publish_all = redis.register_script(_PUBLISH_ALL)

    async def publish(self, audience: str, event: LiveEvent) -> None:
        await self.publish_many([(audience, event)])

    async def publish_many(self, items: Sequence[tuple[str, LiveEvent]]) -> None:
        if not items:
            return
        try:
            for start in range(0, len(items), CHUNK):
                args: list[str | bytes] = []
                for audience, payload in encode_events(items[start : start + CHUNK]):
                    args += (self._prefix + audience, payload)
                await self._publish_all(args=args)
        except Exception:  # the caller's work is committed; pages re-read on reconnect
            log.exception("%d live events not published", len(items))


class RedisPageFeed(PageFeed):
    """Subscribed to the channel of each audience with a page open in this process."""

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._backend = RedisChannelsPubSubBackend(redis=redis)

    async def subscribe(self, audiences: Sequence[str]) -> None:
        await self._backend.subscribe([self._prefix + a for a in audiences])

    async def unsubscribe(self, audiences: Sequence[str]) -> None:
        await self._backend.unsubscribe([self._prefix + a for a in audiences])

    async def run(self, deliver: Callable[[str, bytes], None]) -> None:
        try:
            async for channel, payload in self._backend.stream_events():
                deliver(channel.removeprefix(self._prefix), payload)
        finally:
            await self._backend.on_shutdown()
            await self._redis.aclose()
