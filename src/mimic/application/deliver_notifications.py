"""The worker's sender: delivers the outbox per user, per batch, per channel, within limits."""

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mimic.domain.errors import DeliveryFailed
from mimic.domain.mail import notification_mail
from mimic.domain.notifications import (
    Channel,
    DeliveryResult,
    FloodControl,
    FloodWait,
    Notification,
    default_channels,
    group_batches,
    pack_messages,
)
from mimic.ports.metrics import Metrics
from mimic.ports.notifications import (
    ChatMessenger,
    NotificationOutbox,
    NotificationPreferences,
    NotificationRecipients,
)
from mimic.ports.repositories import TransactionManager
from mimic.ports.services import Clock, Mailer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    batch: int = 200
    # Claimed notifications are nobody else's for this long; a dead sender's come back then.
    lease: timedelta = timedelta(minutes=2)
    # One pass sends for at most this long; a longer wait is left to a later pass. Short:
    # a pass holds one of a worker's task slots, which the fan-out needs more.
    pass_budget: timedelta = timedelta(seconds=2)
    # A flood-control wait up to this long is slept within the pass; a longer one postpones.
    max_wait: timedelta = timedelta(seconds=1)
    first_retry: timedelta = timedelta(seconds=5)
    max_retry: timedelta = timedelta(minutes=10)
    # Mails link to the web app's pages under this address.
    site_url: str = "http://127.0.0.1:8000"

    def retry_delay(self, attempts: int) -> timedelta:
        delay: timedelta = self.first_retry * 2 ** min(max(attempts - 1, 0), 16)
        return min(delay, self.max_retry)


@dataclass(slots=True)
class _Progress:
    wanted: frozenset[Channel]
    delivered: set[Channel] = field(default_factory=set)
    retry_at: datetime | None = None
    error: str | None = None


class DeliverNotifications:
    """One pass over the due outbox; returns how many notifications it finished."""

    def __init__(
        self,
        outbox: NotificationOutbox,
        preferences: NotificationPreferences,
        recipients: NotificationRecipients,
        messenger: ChatMessenger,
        mailer: Mailer,
        flood: FloodControl,
        tx: TransactionManager,
        clock: Clock,
        policy: DeliveryPolicy,
        metrics: Metrics,
    ) -> None:
        self._outbox = outbox
        self._preferences = preferences
        self._recipients = recipients
        self._messenger = messenger
        self._mailer = mailer
        self._flood = flood
        self._tx = tx
        self._clock = clock
        self._policy = policy
        self._metrics = metrics

    async def __call__(self) -> int:
        now = self._clock.now()
        due = await self._outbox.claim_due(
            now=now, lease_until=now + self._policy.lease, limit=self._policy.batch
        )
        await self._tx.commit()
        self._metrics.outbox_backlog(await self._outbox.count_unsent())
        if not due:
            return 0
        user_ids = {n.user_id for n in due}
        recipients = await self._recipients.recipients(user_ids)
        choices = await self._preferences.choices_of(user_ids)
        deadline = time.monotonic() + self._policy.pass_budget.total_seconds()
        results: list[DeliveryResult] = []
        for (user_id, _), items in group_batches(due).items():
            if results and time.monotonic() > deadline:  # slow carriers: the rest waits
                now = self._clock.now()
                results.extend(DeliveryResult(i.id, i.delivered, None, now) for i in items)
                continue
            recipient = recipients.get(user_id)
            chat = recipient.chat_id if recipient and self._messenger.enabled else None
            email = recipient.email if recipient and recipient.active else None
            progress = {}
            for item in items:
                wanted = choices.get(user_id, {}).get(item.event)
                if wanted is None:
                    wanted = default_channels(item.event, telegram_linked=chat is not None)
                if chat is None or email is None:  # unlinked, or inactive: never to Telegram
                    wanted -= {Channel.TELEGRAM}
                if email is None:
                    wanted -= {Channel.EMAIL}
                progress[item.id] = _Progress(wanted, set(item.delivered))
            if chat is not None and email is not None:
                await self._send_telegram(chat, items, progress, deadline)
            if email is not None:
                await self._send_email(email, items, progress)
            results.extend(self._results(items, progress))
        await self._outbox.record_deliveries(results)
        await self._tx.commit()
        return sum(r.sent_at is not None for r in results)

    @staticmethod
    def _pending(
        items: Sequence[Notification], progress: dict[str, _Progress], channel: Channel
    ) -> list[Notification]:
        return [
            i
            for i in items
            if channel in progress[i.id].wanted and channel not in progress[i.id].delivered
        ]

    def _postpone(
        self, items: Sequence[Notification], progress: dict[str, _Progress], at: datetime, why: str
    ) -> None:
        for item in items:
            state = progress[item.id]
            state.retry_at = max(state.retry_at or at, at)
            state.error = why

    async def _send_telegram(
        self,
        chat: str,
        items: Sequence[Notification],
        progress: dict[str, _Progress],
        deadline: float,
    ) -> None:
        pending = self._pending(items, progress, Channel.TELEGRAM)
        if not pending:
            return
        # Sent in order; each message is marked only for the notifications it carried.
        for text, indexes in pack_messages([i.text for i in pending]):
            carriers = [pending[i] for i in indexes]
            wait = self._flood.wait_for(chat, self._clock.now())
            if wait > timedelta(0) and (
                wait > self._policy.max_wait or time.monotonic() + wait.total_seconds() > deadline
            ):
                self._postpone(carriers, progress, self._clock.now() + wait, "flood control")
                return
            if wait > timedelta(0):
                await asyncio.sleep(wait.total_seconds())
            try:
                await self._messenger.send_message(chat, text)
            except FloodWait as exc:
                now = self._clock.now()
                self._flood.retry_after(exc.retry_after, now)
                self._postpone(
                    carriers, progress, now + timedelta(seconds=exc.retry_after), str(exc)
                )
                return
            except DeliveryFailed as exc:
                self._fail(carriers, progress, str(exc), Channel.TELEGRAM)
                return
            self._flood.sent(chat, self._clock.now())
            for item in carriers:
                progress[item.id].delivered.add(Channel.TELEGRAM)

    async def _send_email(
        self, email: str, items: Sequence[Notification], progress: dict[str, _Progress]
    ) -> None:
        pending = self._pending(items, progress, Channel.EMAIL)
        if not pending:
            return
        mail = notification_mail(pending, self._policy.site_url)
        try:
            await self._mailer.send(email, mail.subject, mail.body)
        except DeliveryFailed as exc:
            self._fail(pending, progress, str(exc), Channel.EMAIL)
            return
        for item in pending:
            progress[item.id].delivered.add(Channel.EMAIL)

    def _fail(
        self,
        items: Sequence[Notification],
        progress: dict[str, _Progress],
        why: str,
        channel: Channel,
    ) -> None:
        log.warning("notification delivery failed (%d waiting): %s", len(items), why)
        self._metrics.delivery_failed(channel.value, len(items))
        now = self._clock.now()
        for item in items:
            self._postpone([item], progress, now + self._policy.retry_delay(item.attempts), why)

    def _results(
        self, items: Sequence[Notification], progress: dict[str, _Progress]
    ) -> list[DeliveryResult]:
        now = self._clock.now()
        results = []
        for item in items:
            state = progress[item.id]
            done = state.wanted <= state.delivered
            results.append(
                DeliveryResult(
                    item.id,
                    frozenset(state.delivered),
                    sent_at=now if done else None,
                    retry_at=None if done else (state.retry_at or now),
                    error=state.error,
                )
            )
        return results
