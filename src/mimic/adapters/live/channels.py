"""Live events through Litestar's channels plugin: this process's pages hear them at once.

The embedded default (memory backend). In production the plugin reads Redis Pub/Sub and
publishers use `RedisLiveEvents`, so events from worker processes reach every web process.
"""

import logging
from collections.abc import Sequence

from litestar.channels import ChannelsPlugin

from mimic.adapters.live.wire import encode_event
from mimic.ports.live_events import LiveEvent, LiveEvents

log = logging.getLogger(__name__)


class ChannelsLiveEvents(LiveEvents):
    def __init__(self, plugin: ChannelsPlugin, *, prefix: str) -> None:
        self._plugin = plugin
        self._prefix = prefix

    async def publish(self, audience: str, event: LiveEvent) -> None:
        await self.publish_many([(audience, event)])

    async def publish_many(self, items: Sequence[tuple[str, LiveEvent]]) -> None:
        for audience, event in items:
            try:  # queued: the plugin's own task hands it to the subscribers
                self._plugin.publish(encode_event(event), self._prefix + audience)
            except Exception:
                log.exception("live event %s for %s not published", event.kind, audience)


class UnheardLiveEvents(LiveEvents):
    """For a process that serves no page and shares no Redis with one (the embedded CLI):
    no page can be listening, and the pages re-read the database when they next load."""

    async def publish(self, audience: str, event: LiveEvent) -> None:
        log.debug("live event %s for %s: no page in this process", event.kind, audience)

    async def publish_many(self, items: Sequence[tuple[str, LiveEvent]]) -> None:
        for audience, event in items:
            await self.publish(audience, event)
