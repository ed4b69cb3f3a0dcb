"""Notification outbox, preferences and Telegram links on SQLAlchemy Core."""

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.bulk import insert_columns
from mimic.adapters.sqlalchemy.statements import _chunks, _insert
from mimic.adapters.sqlalchemy.tables import (
    NamedRow,
    notification_outbox,
    notification_preferences,
    telegram_link_codes,
    telegram_links,
    users,
)
from mimic.domain.notifications import Channel, DeliveryResult, Notification, Recipient
from mimic.ports.notifications import (
    NotificationOutbox,
    NotificationPreferences,
    NotificationRecipients,
    TelegramLinks,
)


def _channels(raw: str) -> frozenset[Channel]:
    return frozenset(Channel(name) for name in raw.split(",") if name)


def _channels_text(channels: Collection[Channel]) -> str:
    return ",".join(sorted(channels)) if channels else ""


def _notification(row: NamedRow) -> Notification:
    return Notification(
        id=row["id"],
        user_id=row["user_id"],
        event=row["event"],
        text=row["text"],
        created_at=row["created_at"],
        batch_key=row["batch_key"],
        delivered=_channels(row["delivered"]),
        attempts=row["attempts"],
    )


class SqlNotificationOutbox(NotificationOutbox):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, notifications: Sequence[Notification]) -> None:
        # Column by column: a fan-out adds one per follower, without a dict per row.
        created = [n.created_at for n in notifications]
        await insert_columns(
            self._session,
            notification_outbox,
            {
                "id": [n.id for n in notifications],
                "user_id": [n.user_id for n in notifications],
                "event": [n.event for n in notifications],
                "text": [n.text for n in notifications],
                "batch_key": [n.batch_key for n in notifications],
                "created_at": created,
                "next_attempt_at": created,
                "attempts": [n.attempts for n in notifications],
                "delivered": [_channels_text(n.delivered) for n in notifications],
            },
        )

    async def claim_due(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[Notification]:
        c = notification_outbox.c
        token = uuid.uuid4().hex
        claimed = 0
        # Postgres: rows another sender holds are skipped, so concurrent senders lease
        # disjoint batches and never wait on (or deadlock with) one another. SQLite has one
        # writer: a sender whose compare-and-set lost rows to another looks again, holding
        # the write lock by then, so a second look is the last.
        for _ in range(2):
            due = (
                select(c.id)
                .where(c.sent_at.is_(None), c.next_attempt_at <= now)
                .order_by(c.next_attempt_at, c.created_at)
                .limit(limit - claimed)
                .with_for_update(skip_locked=True)
            )
            ids = list((await self._session.execute(due)).scalars())
            if not ids:
                break
            # Compare-and-set: of concurrent senders only one still finds a row due.
            updated = await self._session.execute(
                update(notification_outbox)
                .where(c.id.in_(ids), c.sent_at.is_(None), c.next_attempt_at <= now)
                .values(claim_token=token, next_attempt_at=lease_until, attempts=c.attempts + 1)
            )
            taken = int(getattr(updated, "rowcount", 0))
            claimed += taken
            if claimed >= limit or taken == len(ids):
                break
        if not claimed:
            return []
        rows = await self._session.execute(
            select(notification_outbox).where(c.claim_token == token)
        )
        return [_notification(row) for row in rows.mappings()]

    async def count_unsent(self) -> int:
        c = notification_outbox.c
        unsent = select(func.count()).select_from(notification_outbox).where(c.sent_at.is_(None))
        return int((await self._session.execute(unsent)).scalar_one())

    async def record_deliveries(self, results: Sequence[DeliveryResult]) -> None:
        c = notification_outbox.c
        by_id = c.id == bindparam("p_id")
        at = bindparam("p_at", type_=c.sent_at.type)
        done = [r for r in results if r.sent_at is not None]
        retried = [r for r in results if r.sent_at is None]
        statements = (
            (done, update(notification_outbox).where(by_id).values(sent_at=at)),
            (
                retried,
                update(notification_outbox)
                .where(by_id)
                .values(next_attempt_at=func.coalesce(at, c.next_attempt_at)),
            ),
        )
        for group, statement in statements:
            statement = statement.values(
                delivered=bindparam("p_delivered"),
                last_error=bindparam("p_error"),
                claim_token=None,
            )
            for chunk in _chunks(group):
                await self._session.execute(
                    statement,
                    [
                        {
                            "p_id": r.notification_id,
                            "p_at": r.sent_at or r.retry_at,
                            "p_delivered": _channels_text(r.delivered),
                            "p_error": r.error,
                        }
                        for r in chunk
                    ],
                )


class SqlNotificationRecipients(NotificationRecipients):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def recipients(self, user_ids: Collection[str]) -> dict[str, Recipient]:
        u, t = users.c, telegram_links.c
        found: dict[str, Recipient] = {}
        for chunk in _chunks(list(user_ids)):
            rows = await self._session.execute(
                select(u.id, u.email, u.active, t.chat_id)
                .select_from(users.outerjoin(telegram_links, t.user_id == u.id))
                .where(u.id.in_(chunk))
            )
            for user_id, email, active, chat_id in rows:
                found[user_id] = Recipient(user_id, email, bool(active), chat_id)
        return found


class SqlNotificationPreferences(NotificationPreferences):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def choices_of(
        self, user_ids: Collection[str]
    ) -> dict[str, dict[str, frozenset[Channel]]]:
        c = notification_preferences.c
        choices: dict[str, dict[str, frozenset[Channel]]] = {}
        for chunk in _chunks(list(user_ids)):
            rows = await self._session.execute(
                select(notification_preferences).where(c.user_id.in_(chunk))
            )
            for row in rows.mappings():
                choices.setdefault(row[c.user_id], {})[row[c.event]] = _channels(row[c.channels])
        return choices

    async def choose(self, user_id: str, choices: Mapping[str, frozenset[Channel]]) -> None:
        if not choices:
            return
        insert = _insert(self._session, notification_preferences)
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[
                    notification_preferences.c.user_id,
                    notification_preferences.c.event,
                ],
                set_={"channels": insert.excluded.channels},
            ),
            [
                {"user_id": user_id, "event": event, "channels": _channels_text(channels)}
                for event, channels in choices.items()
            ],
        )


class SqlTelegramLinks(TelegramLinks):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def chats_of(self, user_ids: Collection[str]) -> dict[str, str]:
        c = telegram_links.c
        chats: dict[str, str] = {}
        for chunk in _chunks(list(user_ids)):
            rows = await self._session.execute(
                select(c.user_id, c.chat_id).where(c.user_id.in_(chunk))
            )
            chats.update({str(user_id): str(chat_id) for user_id, chat_id in rows})
        return chats

    async def user_of_chat(self, chat_id: str) -> str | None:
        c = telegram_links.c
        found: str | None = (
            await self._session.execute(select(c.user_id).where(c.chat_id == chat_id))
        ).scalar_one_or_none()
        return found

    async def link(self, user_id: str, chat_id: str, now: datetime) -> None:
        c = telegram_links.c
        await self._session.execute(
            delete(telegram_links).where((c.user_id == user_id) | (c.chat_id == chat_id))
        )
        await self._session.execute(
            telegram_links.insert().values(user_id=user_id, chat_id=chat_id, linked_at=now)
        )

    async def unlink(self, user_id: str) -> bool:
        result = await self._session.execute(
            delete(telegram_links).where(telegram_links.c.user_id == user_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def add_code(self, code_hash: str, user_id: str, expires_at: datetime) -> None:
        c = telegram_link_codes.c
        # A new code replaces the user's older ones: only the latest can link.
        await self._session.execute(delete(telegram_link_codes).where(c.user_id == user_id))
        await self._session.execute(
            telegram_link_codes.insert().values(
                code_hash=code_hash, user_id=user_id, expires_at=expires_at
            )
        )

    async def take_code(self, code_hash: str, now: datetime) -> str | None:
        c = telegram_link_codes.c
        row = (
            await self._session.execute(
                select(c.user_id, c.expires_at).where(c.code_hash == code_hash)
            )
        ).first()
        if row is None:
            return None
        result = await self._session.execute(
            delete(telegram_link_codes).where(c.code_hash == code_hash)
        )
        if not getattr(result, "rowcount", 0):  # taken by a concurrent /start
            return None
        user_id, expires_at = row
        return str(user_id) if now < expires_at else None
