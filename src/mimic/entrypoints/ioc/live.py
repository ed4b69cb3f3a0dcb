"""Which LiveEvents adapter a process publishes through, and the channels its pages hear."""

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis

from mimic.adapters.live.channels import ChannelsLiveEvents, UnheardLiveEvents
from mimic.adapters.live.redis_pubsub import RedisLiveEvents
from mimic.entrypoints.config import Settings
from mimic.ports.live_events import LiveEvents

# A page slower than this many events behind loses the oldest: it re-reads on the next one.
MAX_BACKLOG = 1000


def make_channels(settings: Settings) -> ChannelsPlugin:
    """Redis Pub/Sub when Redis is configured (events from worker processes), else memory."""
    backend = (
        RedisChannelsPubSubBackend(redis=Redis.from_url(settings.redis_url))
        if settings.redis_url is not None
        else MemoryChannelsBackend()
    )
    return ChannelsPlugin(
        backend=backend,
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=MAX_BACKLOG,
        subscriber_backlog_strategy="dropleft",
    )


class LiveEventsProvider(Provider):
    """Production (Redis): straight to Redis Pub/Sub, from web and worker processes alike.
    Embedded: through this process's channels plugin, which serves its pages."""

    scope = Scope.APP

    def __init__(self, channels: ChannelsPlugin | None = None) -> None:
        super().__init__()
        self._channels = channels

    @provide
    async def live_events(self, settings: Settings) -> AsyncIterator[LiveEvents]:
        if settings.redis_url is not None:
            client = Redis.from_url(settings.redis_url)
            yield RedisLiveEvents(client, prefix=settings.live_channel_prefix)
            await client.aclose()
        elif self._channels is not None:
            yield ChannelsLiveEvents(self._channels, prefix=settings.live_channel_prefix)
        else:
            yield UnheardLiveEvents()
