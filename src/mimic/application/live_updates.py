"""What the fan-out tells open pages: each order that settled, and the signal's progress.

Called after the commit that stored the results, so a page re-reading on the event sees them.
"""

from collections import Counter
from collections.abc import Sequence

from mimic.domain.orders import OrderIntent
from mimic.ports.live_events import ADMINS, LiveEvent, user_audience


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
