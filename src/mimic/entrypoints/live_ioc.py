"""Which LiveEvents adapter a process publishes through."""

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide
from litestar.channels import ChannelsPlugin
from redis.asyncio import Redis

from mimic.adapters.live.channels import ChannelsLiveEvents, UnheardLiveEvents
from mimic.adapters.live.redis_pubsub import RedisLiveEvents
from mimic.entrypoints.config import Settings
from mimic.ports.live_events import LiveEvents


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
