"""Ports of the notifications and the Telegram bot (the panic switch's are in ports.panic)."""

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from mimic.domain.notifications import (
    Channel,
    ChatMessage,
    DeliveryResult,
    Notification,
    Recipient,
)


class NotificationOutbox(Protocol):
    async def add_many(self, notifications: Sequence[Notification]) -> None:
        """Stored with the caller's transaction: a notification commits with its cause."""
        ...

    async def claim_due(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[Notification]:
        """Take undelivered notifications that are due; nobody else takes them before
        `lease_until` (a sender that dies leaves them to the next one)."""
        ...

    async def record_deliveries(self, results: Sequence[DeliveryResult]) -> None: ...

    async def count_unsent(self) -> int:
        """Notifications not delivered yet, due or waiting for a retry (the backlog)."""
        ...


class NotificationRecipients(Protocol):
    async def recipients(self, user_ids: Collection[str]) -> dict[str, Recipient]:
        """The users that exist, with their email and linked Telegram chat, in one query."""
        ...


class NotificationPreferences(Protocol):
    async def choices_of(
        self, user_ids: Collection[str]
    ) -> dict[str, dict[str, frozenset[Channel]]]:
        """Per user, the events whose channels the user chose (others use the defaults)."""
        ...

    async def choose(self, user_id: str, choices: Mapping[str, frozenset[Channel]]) -> None: ...


class TelegramLinks(Protocol):
    async def chats_of(self, user_ids: Collection[str]) -> dict[str, str]:
        """user id -> linked chat id, for the users that have one."""
        ...

    async def user_of_chat(self, chat_id: str) -> str | None: ...

    async def link(self, user_id: str, chat_id: str, now: datetime) -> None:
        """One chat per user and one user per chat: an older link of either is replaced."""
        ...

    async def unlink(self, user_id: str) -> bool: ...

    async def add_code(self, code_hash: str, user_id: str, expires_at: datetime) -> None: ...

    async def take_code(self, code_hash: str, now: datetime) -> str | None:
        """The user a valid code belongs to; the code is used up (also when expired)."""
        ...


class ChatMessenger(Protocol):
    """The Telegram Bot API's sending side."""

    @property
    def enabled(self) -> bool:
        """False when no bot is configured: the Telegram channel is then unavailable."""
        ...

    async def send_message(self, chat_id: str, text: str) -> None:
        """Raises `FloodWait` on 429, `DeliveryFailed` on anything else that failed."""
        ...


class ChatUpdates(Protocol):
    def chat_message(self, update: object) -> ChatMessage | None:
        """What a person wrote to the bot, read from the chat service's update (as its webhook
        or long polling delivers it, decoded from JSON); None for anything else."""
        ...
