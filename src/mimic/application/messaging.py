"""Messages between users and the admins: a user writes to the admins as a group, an admin
writes to or answers one user; each conversation is a thread."""

import uuid
from dataclasses import dataclass

from mimic.domain.accounts import User
from mimic.domain.errors import InvalidField, NotFound
from mimic.domain.messages import (
    MAX_BODY_LENGTH,
    MAX_SUBJECT_LENGTH,
    Message,
    MessageThread,
    ThreadSummary,
)
from mimic.domain.quotas import Quotas, check_hourly_quota
from mimic.ports.accounts import MessageRepository
from mimic.ports.repositories import TransactionManager, UserRepository
from mimic.ports.services import Clock, Notifier

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class NewThread:
    body: str
    subject: str | None = None
    to_user_id: str | None = None  # only for admins: the user written to


@dataclass(frozen=True, slots=True)
class ThreadView:
    thread: MessageThread
    messages: list[Message]


def _body(text: str) -> str:
    body = text.strip()
    if not body:
        raise InvalidField("body", "must not be empty")
    if len(body) > MAX_BODY_LENGTH:
        raise InvalidField("body", f"must be at most {MAX_BODY_LENGTH} characters")
    return body


class Messaging:
    def __init__(
        self,
        messages: MessageRepository,
        users: UserRepository,
        notifier: Notifier,
        tx: TransactionManager,
        clock: Clock,
        quotas: Quotas,
    ) -> None:
        self._messages = messages
        self._users = users
        self._notifier = notifier
        self._tx = tx
        self._clock = clock
        self._per_hour = quotas.messages_per_hour

    async def start(self, author: User, new: NewThread) -> ThreadView:
        body = _body(new.body)
        await self._check_quota(author)
        subject = (new.subject or "").strip() or body.splitlines()[0]
        subject = subject[:MAX_SUBJECT_LENGTH]
        if author.is_admin:
            if not new.to_user_id:
                raise InvalidField("user_id", "names the user an admin writes to")
            recipient = await self._users.get(new.to_user_id)
            if recipient is None or recipient.deleted_at is not None:
                raise InvalidField("user_id", "is not a known user")
            user_id = recipient.id
        else:
            if new.to_user_id not in (None, author.id):
                raise InvalidField("user_id", "users write to the admins only; leave it out")
            user_id = author.id
        now = self._clock.now()
        thread = MessageThread(
            id=uuid.uuid4().hex, user_id=user_id, subject=subject, created_at=now, updated_at=now
        )
        await self._messages.add_thread(thread)
        message = await self._post(thread, author, body)
        await self._tx.commit()
        await self._tell_user(thread, author)
        return ThreadView(thread, [message])

    async def reply(self, author: User, thread_id: str, text: str) -> Message:
        body = _body(text)
        thread = await self._visible_thread(author, thread_id)
        await self._check_quota(author)
        message = await self._post(thread, author, body)
        await self._messages.touch_thread(thread.id, message.created_at)
        await self._tx.commit()
        await self._tell_user(thread, author)
        return message

    async def _check_quota(self, author: User) -> None:
        if not author.is_admin:
            latest = await self._messages.latest_sent(author.id, limit=self._per_hour)
            check_hourly_quota("messages", latest, self._per_hour, self._clock.now())

    async def _post(self, thread: MessageThread, author: User, body: str) -> Message:
        message = Message(
            id=uuid.uuid4().hex,
            thread_id=thread.id,
            sender_id=author.id,
            from_admin=author.is_admin,
            body=body,
            created_at=self._clock.now(),
        )
        await self._messages.add_message(message)
        return message

    async def _tell_user(self, thread: MessageThread, author: User) -> None:
        # Only after our commit: the notifier writes in a transaction of its own, which would
        # wait on our uncommitted write (SQLite has one writer) or announce a rolled-back message.
        if author.is_admin:
            await self._notifier.notify(
                thread.user_id, "message.received", f"New message from the admins: {thread.subject}"
            )

    async def threads(self, reader: User, offset: int, limit: int) -> list[ThreadSummary]:
        if offset < 0:
            raise InvalidField("offset", "must not be negative")
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidField("limit", f"must be from 1 to {MAX_PAGE}")
        return await self._messages.list_threads(
            user_id=None if reader.is_admin else reader.id,
            for_admins=reader.is_admin,
            offset=offset,
            limit=limit,
        )

    async def thread(self, reader: User, thread_id: str) -> ThreadView:
        thread = await self._visible_thread(reader, thread_id)
        return ThreadView(thread, await self._messages.list_messages(thread.id))

    async def mark_read(self, reader: User, thread_id: str) -> None:
        thread = await self._visible_thread(reader, thread_id)
        await self._messages.mark_read(thread.id, by_admins=reader.is_admin, at=self._clock.now())
        await self._tx.commit()

    async def unread(self, reader: User) -> int:
        return await self._messages.unread_count(
            user_id=None if reader.is_admin else reader.id, for_admins=reader.is_admin
        )

    async def _visible_thread(self, reader: User, thread_id: str) -> MessageThread:
        thread = await self._messages.get_thread(thread_id)
        if thread is None or (not reader.is_admin and thread.user_id != reader.id):
            raise NotFound("message thread not found")
        return thread
