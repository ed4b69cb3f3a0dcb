"""In-memory adapters of the ports in mimic.ports.notifications."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from mimic.domain.errors import DeliveryFailed
from mimic.domain.notifications import (
    Channel,
    DeliveryResult,
    FloodWait,
    Notification,
    Recipient,
)
from mimic.ports.notifications import (
    ChatMessenger,
    NotificationOutbox,
    NotificationPreferences,
    NotificationRecipients,
    TelegramLinks,
)
from tests.fakes.repositories.users import InMemoryUserRepository


class InMemoryOutbox(NotificationOutbox):
    def __init__(self) -> None:
        self.rows: dict[str, Notification] = {}
        self.due_at: dict[str, datetime] = {}
        self.sent_at: dict[str, datetime] = {}
        self.errors: dict[str, str | None] = {}

    async def add_many(self, notifications: Sequence[Notification]) -> None:
        for n in notifications:
            self.rows[n.id] = n
            self.due_at[n.id] = n.created_at

    async def claim_due(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[Notification]:
        due = [
            n for n in self.rows.values() if n.id not in self.sent_at and self.due_at[n.id] <= now
        ][:limit]
        for n in due:
            self.due_at[n.id] = lease_until
            self.rows[n.id] = replace(n, attempts=n.attempts + 1)
        return [self.rows[n.id] for n in due]

    async def count_unsent(self) -> int:
        return len(self.rows.keys() - self.sent_at.keys())

    async def record_deliveries(self, results: Sequence[DeliveryResult]) -> None:
        for r in results:
            self.rows[r.notification_id] = replace(
                self.rows[r.notification_id], delivered=r.delivered
            )
            self.errors[r.notification_id] = r.error
            if r.sent_at is not None:
                self.sent_at[r.notification_id] = r.sent_at
            elif r.retry_at is not None:
                self.due_at[r.notification_id] = r.retry_at

    def undelivered(self) -> list[Notification]:
        return [n for n in self.rows.values() if n.id not in self.sent_at]


class InMemoryPreferences(NotificationPreferences):
    def __init__(self) -> None:
        self.choices: dict[str, dict[str, frozenset[Channel]]] = {}

    async def choices_of(
        self, user_ids: Collection[str]
    ) -> dict[str, dict[str, frozenset[Channel]]]:
        return {u: dict(self.choices[u]) for u in user_ids if u in self.choices}

    async def choose(self, user_id: str, choices: Mapping[str, frozenset[Channel]]) -> None:
        self.choices.setdefault(user_id, {}).update(choices)


class InMemoryTelegramLinks(TelegramLinks):
    def __init__(self) -> None:
        self.chats: dict[str, str] = {}
        self.codes: dict[str, tuple[str, datetime]] = {}

    async def chats_of(self, user_ids: Collection[str]) -> dict[str, str]:
        return {u: self.chats[u] for u in user_ids if u in self.chats}

    async def user_of_chat(self, chat_id: str) -> str | None:
        return next((u for u, c in self.chats.items() if c == chat_id), None)

    async def link(self, user_id: str, chat_id: str, now: datetime) -> None:
        self.chats = {u: c for u, c in self.chats.items() if c != chat_id}
        self.chats[user_id] = chat_id

    async def unlink(self, user_id: str) -> bool:
        return self.chats.pop(user_id, None) is not None

    async def add_code(self, code_hash: str, user_id: str, expires_at: datetime) -> None:
        """A new code replaces the user's older ones: only the latest can link (as in SQL)."""
        self.codes = {h: code for h, code in self.codes.items() if code[0] != user_id}
        self.codes[code_hash] = (user_id, expires_at)

    async def take_code(self, code_hash: str, now: datetime) -> str | None:
        found = self.codes.pop(code_hash, None)
        return found[0] if found is not None and now < found[1] else None


class InMemoryRecipients(NotificationRecipients):
    def __init__(self, users: InMemoryUserRepository, links: InMemoryTelegramLinks) -> None:
        self._users = users
        self._links = links

    async def recipients(self, user_ids: Collection[str]) -> dict[str, Recipient]:
        found = {}
        for user_id in user_ids:
            user = await self._users.get(user_id)
            if user is not None:
                chat = self._links.chats.get(user_id)
                found[user_id] = Recipient(user_id, user.email, user.active, chat)
        return found


class RecordingMessenger(ChatMessenger):
    """Records what it sends; answers 429 or fails on demand, like Telegram would."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.flood_waits: list[float] = []
        self.failures: list[str] = []

    @property
    def enabled(self) -> bool:
        return True

    async def send_message(self, chat_id: str, text: str) -> None:
        if self.flood_waits:
            raise FloodWait(self.flood_waits.pop(0))
        if self.failures:
            raise DeliveryFailed(self.failures.pop(0))
        self.sent.append((chat_id, text))
