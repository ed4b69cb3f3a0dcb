"""User-admin message threads on SQLAlchemy Core."""

from datetime import datetime

from sqlalchemy import RowMapping, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.tables import message_threads, messages
from mimic.domain.messages import Message, MessageThread, ThreadSummary
from mimic.ports.accounts import MessageRepository


def _thread(row: RowMapping) -> MessageThread:
    c = message_threads.c
    return MessageThread(
        id=row[c.id],
        user_id=row[c.user_id],
        subject=row[c.subject],
        created_at=row[c.created_at],
        updated_at=row[c.updated_at],
    )


def _message(row: RowMapping) -> Message:
    c = messages.c
    return Message(
        id=row[c.id],
        thread_id=row[c.thread_id],
        sender_id=row[c.sender_id],
        from_admin=row[c.from_admin],
        body=row[c.body],
        created_at=row[c.created_at],
        read_at=row[c.read_at],
    )


class SqlMessageRepository(MessageRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_thread(self, thread: MessageThread) -> None:
        await self._session.execute(
            message_threads.insert().values(
                id=thread.id,
                user_id=thread.user_id,
                subject=thread.subject,
                created_at=thread.created_at,
                updated_at=thread.updated_at,
            )
        )

    async def get_thread(self, thread_id: str) -> MessageThread | None:
        query = select(message_threads).where(message_threads.c.id == thread_id)
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else _thread(row)

    async def touch_thread(self, thread_id: str, at: datetime) -> None:
        await self._session.execute(
            update(message_threads).where(message_threads.c.id == thread_id).values(updated_at=at)
        )

    async def add_message(self, message: Message) -> None:
        await self._session.execute(
            messages.insert().values(
                id=message.id,
                thread_id=message.thread_id,
                sender_id=message.sender_id,
                from_admin=message.from_admin,
                body=message.body,
                created_at=message.created_at,
                read_at=message.read_at,
            )
        )

    async def latest_sent(self, sender_id: str, *, limit: int) -> list[datetime]:
        query = (
            select(messages.c.created_at)
            .where(messages.c.sender_id == sender_id)
            .order_by(messages.c.created_at.desc())
            .limit(limit)
        )
        return list((await self._session.execute(query)).scalars())

    async def list_messages(self, thread_id: str) -> list[Message]:
        c = messages.c
        query = select(messages).where(c.thread_id == thread_id).order_by(c.created_at, c.id)
        return [_message(row) for row in (await self._session.execute(query)).mappings()]

    async def list_threads(
        self, *, user_id: str | None, for_admins: bool, offset: int, limit: int
    ) -> list[ThreadSummary]:
        t, m = message_threads.c, messages.c
        unread_flag = and_(m.read_at.is_(None), m.from_admin == (not for_admins))
        counts = (
            select(
                m.thread_id.label("thread_id"),
                func.count().label("total"),
                func.count().filter(unread_flag).label("unread"),
            )
            .group_by(m.thread_id)
            .subquery()
        )
        query = (
            select(message_threads, counts.c.total, counts.c.unread)
            .join(counts, counts.c.thread_id == t.id)
            .order_by(t.updated_at.desc(), t.id)
            .offset(offset)
            .limit(limit)
        )
        if user_id is not None:
            query = query.where(t.user_id == user_id)
        return [
            ThreadSummary(thread=_thread(row), unread=row["unread"], messages=row["total"])
            for row in (await self._session.execute(query)).mappings()
        ]

    async def mark_read(self, thread_id: str, *, by_admins: bool, at: datetime) -> None:
        c = messages.c
        await self._session.execute(
            update(messages)
            .where(c.thread_id == thread_id, c.from_admin == (not by_admins), c.read_at.is_(None))
            .values(read_at=at)
        )

    async def unread_count(self, *, user_id: str | None, for_admins: bool) -> int:
        t, m = message_threads.c, messages.c
        query = (
            select(func.count())
            .select_from(messages.join(message_threads, t.id == m.thread_id))
            .where(m.read_at.is_(None), m.from_admin == (not for_admins))
        )
        if user_id is not None:
            query = query.where(t.user_id == user_id)
        return int(await self._session.scalar(query) or 0)
