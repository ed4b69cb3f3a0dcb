"""What open pages are told: each order that settled, a signal's progress, and everything
a user is notified of. Always after the commit that stored it: a page re-reading on the
event sees the change."""

from collections import Counter
from collections.abc import Sequence

from mimic.domain.orders import OrderIntent
from mimic.ports.live_events import ADMINS, LiveEvent, LiveEvents, user_audience
from mimic.ports.services import Notifier


def settled_order_events(intents: Sequence[OrderIntent]) -> list[tuple[str, LiveEvent]]:
    """`order.<status>` to each follower whose order settled; one `signal.progress` per
    signal to the admins' pages when any did (they re-read the per-follower outcomes)."""
    settled = [i for i in intents if i.status.is_final]
    events: list[tuple[str, LiveEvent]] = [
        (
            user_audience(intent.user_id),
            LiveEvent(
                kind=f"order.{intent.status.value}",
                data={
                    "intent_id": intent.id,
                    "account_id": intent.account_id,
                    "symbol": intent.symbol,
                    "leg": intent.leg.value,
                    **({"signal_id": intent.signal_id} if intent.signal_id else {}),
                    **({"reason": intent.reason} if intent.reason else {}),
                },
            ),
        )
        for intent in settled
    ]
    per_signal = Counter(i.signal_id for i in settled if i.signal_id is not None)
    events.extend(
        (ADMINS, LiveEvent("signal.progress", {"signal_id": signal_id, "settled": str(count)}))
        for signal_id, count in per_signal.items()
    )
    return events


class PublishingNotifier(Notifier):
    """Whatever a user is notified of (a position closed by its stop, a guardrail tripped,
    a message, a connection approved) also reaches their open pages.

    A notifier is called after the caller's commit already, as a live event must be.
    """

    def __init__(self, notifier: Notifier, live: LiveEvents) -> None:
        self._notifier = notifier
        self._live = live

    async def notify(self, user_id: str, event: str, text: str) -> None:
        await self._notifier.notify(user_id, event, text)
        await self._live.publish(user_audience(user_id), LiveEvent(event, {"text": text}))

    async def notify_many(self, notices: Sequence[tuple[str, str, str]]) -> None:
        await self._notifier.notify_many(notices)
        await self._live.publish_many(
            [
                (user_audience(user), LiveEvent(event, {"text": text}))
                for user, event, text in notices
            ]
        )
