"""Activating or extending a subscription: shared by a completed payment and an admin grant."""

from datetime import datetime

from mimic.domain.payments import Subscription, extend_subscription
from mimic.ports.payments import SubscriptionRepository


async def extend_for(
    subscriptions: SubscriptionRepository,
    *,
    user_id: str,
    plan_id: str | None,
    plan_name: str,
    days: int,
    now: datetime,
) -> Subscription:
    """Within the caller's transaction; the row is locked so two renewals add up."""
    current = await subscriptions.get(user_id, for_update=True)
    extended = extend_subscription(
        current, user_id=user_id, plan_id=plan_id, plan_name=plan_name, days=days, now=now
    )
    await subscriptions.put(extended)
    return extended
