"""This process's open pages, by audience: an event is queued on each page of its audience
the moment it is published here (embedded) or read from Redis Pub/Sub (production), and
each page's own task writes it to the socket.

One hop from the publisher to the page's task, as a bare broadcast has: Litestar's channels
plugin took three (its publish queue, its backend's queue, each subscriber's queue), and a
fan-out's other work ran between each of them, before any page heard its event.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol

from mimic.ports.live_events import LivePages

log = logging.getLogger(__name__)

# A page slower than this many events behind loses the oldest: it re-reads on the next one.
MAX_BACKLOG = 1000


class PageFeed(Protocol):
    """Where events published by other processes come from (Redis Pub/Sub)."""

    async def subscribe(self, audiences: Sequence[str]) -> None: ...

    async def unsubscribe(self, audiences: Sequence[str]) -> None: ...

    async def run(self, deliver: Callable[[str, bytes], None]) -> None:
        """Hands each event read to `deliver(audience, payload)` until cancelled."""
        ...


class _Page:
    __slots__ = ("_backlog", "_send", "_woken")

    def __init__(self, send: Callable[[bytes], Awaitable[None]], max_backlog: int) -> None:
        self._send = send
        self._backlog: deque[bytes] = deque(maxlen=max_backlog)
        self._woken: asyncio.Future[None] | None = None  # set while the writer waits

    def put(self, payload: bytes) -> None:
        self._backlog.append(payload)
        if self._woken is not None and not self._woken.done():
            self._woken.set_result(None)

    async def write_forever(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                while self._backlog:
                    await self._send(self._backlog.popleft())
                self._woken = loop.create_future()
                await self._woken
        except Exception as exc:  # the socket is gone: the route notices it and closes
            log.debug("live page not written to: %r", exc)


class OpenPages(LivePages):
    def __init__(self, feed: PageFeed | None = None, *, max_backlog: int = MAX_BACKLOG) -> None:
        self._feed = feed
        self._max_backlog = max_backlog
        self._pages: dict[str, set[_Page]] = {}

    def deliver(self, audience: str, payload: bytes) -> None:
        """Queues `payload` on every page of `audience` open here; never waits."""
        for page in self._pages.get(audience, ()):
            page.put(payload)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """While inside, events from the feed (other processes) reach the pages."""
        if self._feed is None:
            yield
            return
        reading = asyncio.create_task(self._feed.run(self.deliver), name="live-pages-feed")
        try:
            yield
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading

    @contextlib.asynccontextmanager
    async def page(
        self, audiences: Sequence[str], send: Callable[[bytes], Awaitable[None]]
    ) -> AsyncIterator[None]:
        page = _Page(send, self._max_backlog)
        new = [a for a in audiences if a not in self._pages]
        for audience in audiences:
            self._pages.setdefault(audience, set()).add(page)
        writing = asyncio.create_task(page.write_forever())
        try:
            if self._feed is not None and new:
                await self._feed.subscribe(new)
            yield
        finally:
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writing
            gone = []
            for audience in audiences:
                pages = self._pages[audience]
                pages.discard(page)
                if not pages:
                    del self._pages[audience]
                    gone.append(audience)
            if self._feed is not None and gone:
                await self._feed.unsubscribe(gone)
