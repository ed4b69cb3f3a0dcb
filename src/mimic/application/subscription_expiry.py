"""The periodic job: tell users 3 days before their subscription ends, and when it ended.

Each notice is recorded (compare-and-set per expiry date) and committed before it is
sent, so a job that runs twice, or on two schedulers at once, sends it once. A crash
between commit and delivery loses that one notice rather than repeating it.
"""

import logging
from dataclasses import dataclass

from mimic.application.best_effort import notify_quietly
from mimic.domain.payments import (
    EXPIRY_NOTICE,
    Subscription,
    needs_expired_notice,
    needs_expiring_notice,
)
from mimic.ports.payments import SubscriptionRepository
from mimic.ports.repositories import TransactionManager
from mimic.ports.services import Clock, Notifier

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExpiryRound:
    expiring: list[str]  # user ids told "expires soon"
    expired: list[str]  # user ids told "expired"


class RunSubscriptionExpiry:
    def __init__(
        self,
        subscriptions: SubscriptionRepository,
        notifier: Notifier,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._subscriptions = subscriptions
        self._notifier = notifier
        self._tx = tx
        self._clock = clock

    async def __call__(self) -> ExpiryRound:
        now = self._clock.now()
        due = await self._subscriptions.due_for_notice(now, now + EXPIRY_NOTICE)
        expiring: list[Subscription] = []
        expired: list[Subscription] = []
        for subscription in due:
            if needs_expired_notice(subscription, now):
                kind, bucket = True, expired
            elif needs_expiring_notice(subscription, now):
                kind, bucket = False, expiring
            else:
                continue
            if await self._subscriptions.mark_notice(
                subscription.user_id, expires_at=subscription.expires_at, expired=kind
            ):
                bucket.append(subscription)
        await self._tx.commit()
        for subscription in expiring:
            await notify_quietly(
                self._notifier,
                subscription.user_id,
                "subscription.expiring",
                f"Your {subscription.plan_name} subscription ends on "
                f"{subscription.expires_at:%Y-%m-%d %H:%M} UTC: renew to keep copying.",
            )
        for subscription in expired:
            await notify_quietly(
                self._notifier,
                subscription.user_id,
                "subscription.expired",
                f"Your {subscription.plan_name} subscription ended on "
                f"{subscription.expires_at:%Y-%m-%d %H:%M} UTC: new trades are no longer "
                "copied until you renew (closes still are).",
            )
        if expiring or expired:
            log.info("subscriptions: %d expiring, %d expired notices", len(expiring), len(expired))
        return ExpiryRound([s.user_id for s in expiring], [s.user_id for s in expired])
