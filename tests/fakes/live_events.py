"""An in-memory LiveEvents that remembers what was published, for interactor tests."""

from collections.abc import Sequence

from mimic.ports.live_events import LiveEvent, LiveEvents


class RecordingLiveEvents(LiveEvents):
    def __init__(self) -> None:
        self.published: list[tuple[str, LiveEvent]] = []

    async def publish(self, audience: str, event: LiveEvent) -> None:
        self.published.append((audience, event))

    async def publish_many(self, items: Sequence[tuple[str, LiveEvent]]) -> None:
        self.published.extend(items)

    def kinds_for(self, audience: str) -> list[str]:
        return [event.kind for to, event in self.published if to == audience]
