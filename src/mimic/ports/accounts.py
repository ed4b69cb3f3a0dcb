"""Ports of the accounts work: reset codes, messages, rate limits."""

from datetime import datetime, timedelta
from typing import Protocol

from mimic.domain.messages import Message, MessageThread, ThreadSummary
from mimic.domain.password_reset import PasswordResetToken


class PasswordResetTokens(Protocol):
    async def add(self, token: PasswordResetToken) -> None: ...

    async def find(self, token_hash: str) -> PasswordResetToken | None: ...

    async def use(self, token_id: str, at: datetime) -> bool:
        """Marks an unused code used; False when another request used it first."""
        ...

    async def use_all_for_user(self, user_id: str, at: datetime) -> None:
        """Retires every open code of the user (after a reset or a password change)."""
        ...


class MessageRepository(Protocol):
    async def add_thread(self, thread: MessageThread) -> None: ...

    async def get_thread(self, thread_id: str) -> MessageThread | None: ...

    async def touch_thread(self, thread_id: str, at: datetime) -> None: ...

    async def add_message(self, message: Message) -> None: ...

    async def latest_sent(self, sender_id: str, *, limit: int) -> list[datetime]:
        """When the sender's latest `limit` messages were written, newest first."""
        ...

    async def list_messages(self, thread_id: str) -> list[Message]:
        """Oldest first."""
        ...

    async def list_threads(
        self, *, user_id: str | None, for_admins: bool, offset: int, limit: int
    ) -> list[ThreadSummary]:
        """Most recently active first; `user_id` None means every user's threads. `unread`
        counts the messages the reader's side (admins or the user) has not read."""
        ...

    async def mark_read(self, thread_id: str, *, by_admins: bool, at: datetime) -> None:
        """Marks read what the other side wrote in the thread."""
        ...

    async def unread_count(self, *, user_id: str | None, for_admins: bool) -> int: ...


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window: timedelta) -> float | None:
        """Counts one request against `key`; None when it is within `limit` per `window`,
        else the seconds until the window lets requests through again."""
        ...
