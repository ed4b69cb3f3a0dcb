"""What a user is notified of reaches their open pages too, after the notice is queued."""

import pytest

from mimic.adapters.notifier_base import NotifierBase
from mimic.application.live_updates import PublishingNotifier
from mimic.ports.live_events import LiveEvent, user_audience
from tests.fakes.live_events import RecordingLiveEvents


class FailingNotifier(NotifierBase):
    async def notify(self, user_id: str, event: str, text: str) -> None:
        raise RuntimeError("outbox down")


class ListNotifier(NotifierBase):
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def notify(self, user_id: str, event: str, text: str) -> None:
        self.sent.append((user_id, event, text))


async def test_a_notice_is_queued_and_published_to_that_users_pages() -> None:
    live, inner = RecordingLiveEvents(), ListNotifier()

    await PublishingNotifier(inner, live).notify(
        "u1", "position.stop_loss", "BTCUSDT: stop-loss hit"
    )

    assert inner.sent == [("u1", "position.stop_loss", "BTCUSDT: stop-loss hit")]
    assert live.published == [
        (user_audience("u1"), LiveEvent("position.stop_loss", {"text": "BTCUSDT: stop-loss hit"}))
    ]


async def test_a_notice_that_could_not_be_queued_is_not_announced() -> None:
    live = RecordingLiveEvents()
    with pytest.raises(RuntimeError):
        await PublishingNotifier(FailingNotifier(), live).notify("u1", "order.rejected", "no")
    assert live.published == []
