"""The Notifier port as an outbox row, committed on its own; the worker delivers it."""

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.sqlalchemy.notifications import SqlNotificationOutbox
from mimic.domain.notifications import Notification
from mimic.ports.services import Clock, Notifier

log = logging.getLogger("mimic.notifications")


class OutboxNotifier(Notifier):
    """`notify` stores an outbox row in a transaction of its own; the worker delivers it.

    Callers notify after their own commit, so the row cannot wait on their transaction, and
    the caller never waits on Telegram or a mail server: one small insert is all it costs.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def notify(self, user_id: str, event: str, text: str) -> None:
        await self.notify_many([(user_id, event, text)])

    async def notify_many(self, notices: Sequence[tuple[str, str, str]]) -> None:
        """One transaction for them all."""
        if not notices:
            return
        now = self._clock.now()
        notifications = [
            Notification(
                id=uuid.uuid4().hex, user_id=user_id, event=event, text=text, created_at=now
            )
            for user_id, event, text in notices
        ]
        try:
            async with self._sessions() as session:
                await SqlNotificationOutbox(session).add_many(notifications)
                await session.commit()
        except Exception:  # best effort: a lost notification never fails what it reports
            log.exception("could not queue %d notifications (%s, ...)", len(notices), notices[0][1])
