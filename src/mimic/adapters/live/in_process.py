"""Live events published where the pages are open (the embedded default): handed to them at
once. In production publishers use `RedisLiveEvents`, so events from worker processes reach
every web process.
"""

import logging
from collections.abc import Sequence

from mimic.adapters.live.pages import OpenPages
from mimic.adapters.live.wire import encode_events
from mimic.ports.live_events import LiveEvent, LiveEvents

log = logging.getLogger(__name__)


class InProcessLiveEvents(LiveEvents):
    def __init__(self, pages: OpenPages) -> None:
        self._pages = pages

    async def publish(self, audience: str, event: LiveEvent) -> None:
        await self.publish_many([(audience, event)])

    async def publish_many(self, items: Sequence[tuple[str, LiveEvent]]) -> None:
        try:
            for audience, payload in encode_events(items):
                self._pages.deliver(audience, payload)
        except Exception:  # the caller's work is committed; pages re-read on reconnect
            log.exception("%d live events not delivered", len(items))


class UnheardLiveEvents(LiveEvents):
    """For a process that serves no page and shares no Redis with one (the embedded CLI):
    no page can be listening, and the pages re-read the database when they next load."""

    async def publish(self, audience: str, event: LiveEvent) -> None:
        log.debug("live event %s for %s: no page in this process", event.kind, audience)

    async def publish_many(self, items: Sequence[tuple[str, LiveEvent]]) -> None:
        for audience, event in items:
            await self.publish(audience, event)
