"""This process's open pages: each hears its own audiences' events, in order, at once; a
page far behind loses the oldest; a closed page hears nothing more."""

import asyncio
import json
from collections.abc import Sequence

from mimic.adapters.live.in_process import InProcessLiveEvents
from mimic.adapters.live.pages import OpenPages, PageFeed
from mimic.ports.live_events import ADMINS, LiveEvent, user_audience


class Page:
    def __init__(self) -> None:
        self.heard: list[bytes] = []

    async def send(self, payload: bytes) -> None:
        self.heard.append(payload)


class RecordingFeed(PageFeed):
    def __init__(self) -> None:
        self.subscribed: set[str] = set()

    async def subscribe(self, audiences: Sequence[str]) -> None:
        self.subscribed.update(audiences)

    async def unsubscribe(self, audiences: Sequence[str]) -> None:
        self.subscribed.difference_update(audiences)

    async def run(self, deliver: object) -> None:
        await asyncio.Event().wait()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_each_page_hears_its_own_audiences_events_in_order() -> None:
    pages = OpenPages()
    live = InProcessLiveEvents(pages)
    alice, admin, alice_again = Page(), Page(), Page()
    async with (
        pages.page([user_audience("alice")], alice.send),
        pages.page([user_audience("root"), ADMINS], admin.send),
        pages.page([user_audience("alice")], alice_again.send),
    ):
        await live.publish_many(
            [
                (user_audience("alice"), LiveEvent("order.filled", {"n": "1"})),
                (user_audience("bob"), LiveEvent("order.filled", {"n": "2"})),
                (ADMINS, LiveEvent("signal.progress", {"n": "3"})),
                (user_audience("alice"), LiveEvent("position.closed", {"n": "4"})),
            ]
        )
        await settle()
    first, second = (json.loads(p) for p in alice.heard)
    assert (first["data"], second["data"]) == ({"n": "1"}, {"n": "4"})
    assert alice.heard == alice_again.heard
    [progress] = admin.heard
    assert b"signal.progress" in progress
    await live.publish(user_audience("alice"), LiveEvent("order.filled"))
    await settle()
    assert len(alice.heard) == 2  # closed: nothing more


async def test_a_page_far_behind_loses_the_oldest_events() -> None:
    pages = OpenPages(max_backlog=2)
    slow = Page()
    async with pages.page(["a"], slow.send):
        for n in range(5):
            pages.deliver("a", str(n).encode())
        await settle()
    assert slow.heard == [b"3", b"4"]


async def test_the_feed_is_subscribed_to_the_audiences_with_an_open_page() -> None:
    feed = RecordingFeed()
    pages = OpenPages(feed)
    async with pages.running():
        async with pages.page(["a", "b"], Page().send):
            async with pages.page(["a"], Page().send):
                assert feed.subscribed == {"a", "b"}
            assert feed.subscribed == {"a", "b"}
        assert feed.subscribed == set()
