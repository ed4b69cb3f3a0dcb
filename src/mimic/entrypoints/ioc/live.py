"""Which LiveEvents adapter a process publishes through, and the pages it serves."""

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide
from redis.asyncio import Redis

from mimic.adapters.live.in_process import InProcessLiveEvents, UnheardLiveEvents
from mimic.adapters.live.pages import OpenPages
from mimic.adapters.live.redis_pubsub import RedisLiveEvents, RedisPageFeed
from mimic.entrypoints.config import Settings
from mimic.ports.live_events import LiveEvents


def make_pages(settings: Settings) -> OpenPages:
    """With Redis, the pages also hear what worker processes publish there."""
    if settings.redis_url is None:
        return OpenPages()
    feed = RedisPageFeed(Redis.from_url(settings.redis_url), prefix=settings.live_channel_prefix)
    return OpenPages(feed)


class LiveEventsProvider(Provider):
    """Production (Redis): straight to Redis Pub/Sub, from web and worker processes alike.
    Embedded: to this process's open pages."""

    scope = Scope.APP

    def __init__(self, pages: OpenPages | None = None) -> None:
        super().__init__()
        self._pages = pages

    @provide
    async def live_events(self, settings: Settings) -> AsyncIterator[LiveEvents]:
        if settings.redis_url is not None:
            client = Redis.from_url(settings.redis_url)
            yield RedisLiveEvents(client, prefix=settings.live_channel_prefix)
            await client.aclose()
        elif self._pages is not None:
            yield InProcessLiveEvents(self._pages)
        else:
            yield UnheardLiveEvents()
