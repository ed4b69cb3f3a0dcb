"""In-memory adapters of the ports in mimic.ports.accounts: reset codes and messages."""

import builtins
import copy
from datetime import datetime

from mimic.domain.errors import (
    Conflict,
)
from mimic.domain.messages import Message, MessageThread, ThreadSummary
from mimic.domain.password_reset import PasswordResetToken
from mimic.ports.accounts import MessageRepository, PasswordResetTokens


class InMemoryPasswordResetTokens(PasswordResetTokens):
    def __init__(self) -> None:
        self._rows: dict[str, PasswordResetToken] = {}

    async def add(self, token: PasswordResetToken) -> None:
        if any(t.token_hash == token.token_hash for t in self._rows.values()):
            raise Conflict("reset code exists")
        self._rows[token.id] = copy.deepcopy(token)

    async def find(self, token_hash: str) -> PasswordResetToken | None:
        found = next((t for t in self._rows.values() if t.token_hash == token_hash), None)
        return copy.deepcopy(found)

    async def use(self, token_id: str, at: datetime) -> bool:
        token = self._rows.get(token_id)
        if token is None or token.used_at is not None:
            return False
        token.used_at = at
        return True

    async def use_all_for_user(self, user_id: str, at: datetime) -> None:
        for token in self._rows.values():
            if token.user_id == user_id and token.used_at is None:
                token.used_at = at


class InMemoryMessageRepository(MessageRepository):
    def __init__(self) -> None:
        self._threads: dict[str, MessageThread] = {}
        self._messages: builtins.list[Message] = []

    async def add_thread(self, thread: MessageThread) -> None:
        self._threads[thread.id] = copy.deepcopy(thread)

    async def get_thread(self, thread_id: str) -> MessageThread | None:
        return copy.deepcopy(self._threads.get(thread_id))

    async def touch_thread(self, thread_id: str, at: datetime) -> None:
        self._threads[thread_id].updated_at = at

    async def add_message(self, message: Message) -> None:
        if message.thread_id not in self._threads:
            raise Conflict("no such thread")
        self._messages.append(copy.deepcopy(message))

    async def latest_sent(self, sender_id: str, *, limit: int) -> builtins.list[datetime]:
        sent = [m.created_at for m in self._messages if m.sender_id == sender_id]
        return sorted(sent, reverse=True)[:limit]

    async def list_messages(self, thread_id: str) -> builtins.list[Message]:
        found = [m for m in self._messages if m.thread_id == thread_id]
        return copy.deepcopy(sorted(found, key=lambda m: (m.created_at, m.id)))

    def _unread(self, message: Message, for_admins: bool) -> bool:
        return message.read_at is None and message.from_admin is not for_admins

    async def list_threads(
        self, *, user_id: str | None, for_admins: bool, offset: int, limit: int
    ) -> builtins.list[ThreadSummary]:
        threads = [t for t in self._threads.values() if user_id in (None, t.user_id)]
        threads.sort(key=lambda t: (-t.updated_at.timestamp(), t.id))
        return [
            ThreadSummary(
                thread=copy.deepcopy(t),
                unread=sum(
                    self._unread(m, for_admins) for m in self._messages if m.thread_id == t.id
                ),
                messages=sum(m.thread_id == t.id for m in self._messages),
            )
            for t in threads[offset : offset + limit]
        ]

    async def mark_read(self, thread_id: str, *, by_admins: bool, at: datetime) -> None:
        for message in self._messages:
            if message.thread_id == thread_id and self._unread(message, by_admins):
                message.read_at = at

    async def unread_count(self, *, user_id: str | None, for_admins: bool) -> int:
        return sum(
            self._unread(m, for_admins)
            for m in self._messages
            if user_id in (None, self._threads[m.thread_id].user_id)
        )
