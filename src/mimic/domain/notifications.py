"""Notifications: what a user is told, on which channel, and how fast a chat may be written."""

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mimic.domain.errors import DeliveryFailed, InvalidField
from mimic.domain.ids import new_ids
from mimic.domain.orders import IntentStatus, OrderIntent


class Channel(enum.StrEnum):
    TELEGRAM = "telegram"
    EMAIL = "email"


# Event keys (stable: users store preferences under them). The important ones reach a user
# by email when no Telegram chat is linked; the others only go to Telegram by default.
IMPORTANT_EVENTS = frozenset(
    {
        "order.rejected",
        "position.stop_loss",
        "position.trailing_stop",
        "position.liquidation",
        "guardrail.tripped",
        "exchange.approved",
        "exchange.rejected",
        "subscription.expiring",
        "subscription.expired",
        "panic.executed",
    }
)
EVENTS: tuple[str, ...] = (
    "order.filled",
    "order.rejected",
    "order.skipped",
    "position.take_profit",
    "position.stop_loss",
    "position.trailing_stop",
    "position.dca",
    "position.liquidation",
    "position.external",
    "guardrail.tripped",
    "exchange.approved",
    "exchange.rejected",
    "subscription.expiring",
    "subscription.expired",
    "panic.executed",
)

# Telegram refuses longer texts; a batch longer than this is split.
MAX_MESSAGE_CHARS = 4096


def default_channels(event: str, *, telegram_linked: bool) -> frozenset[Channel]:
    if telegram_linked:
        return frozenset({Channel.TELEGRAM})
    return frozenset({Channel.EMAIL}) if event in IMPORTANT_EVENTS else frozenset()


def parse_channels(event: str, names: Iterable[str]) -> frozenset[Channel]:
    """A user's choice for one event; raises `InvalidField` on an unknown event or channel."""
    if event not in EVENTS:
        raise InvalidField("events", f"{event!r} is not one of {', '.join(EVENTS)}")
    try:
        return frozenset(Channel(name) for name in names)
    except ValueError:
        raise InvalidField(
            "events", f"channels of {event!r} must be among telegram, email"
        ) from None


@dataclass(frozen=True, slots=True)
class Notification:
    """One outbox entry: stored first, delivered later by the worker.

    `batch_key` groups what one signal did to one user into one message.
    """

    id: str
    user_id: str
    event: str
    text: str
    created_at: datetime
    batch_key: str | None = None
    delivered: frozenset[Channel] = frozenset()
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a user can be reached; an inactive user is told nothing."""

    user_id: str
    email: str
    active: bool
    chat_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A text message to the bot: where it was written and by whom (None: no person, as
    when an anonymous group admin or a channel writes)."""

    chat_id: str
    chat_type: str  # Telegram's: "private", "group", "supergroup" or "channel"
    sender_id: str | None
    text: str

    @property
    def from_its_own_person(self) -> bool:
        """A private chat, written by the person it is with (a private chat's id is the
        person's id): any member of a group could otherwise act for whoever linked it."""
        return self.chat_type == "private" and self.sender_id == self.chat_id


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """`sent_at`: done. Else tried again at `retry_at` (None: when the lease runs out)."""

    notification_id: str
    delivered: frozenset[Channel]
    sent_at: datetime | None
    retry_at: datetime | None
    error: str | None = None


def order_notifications(intents: Iterable[OrderIntent], now: datetime) -> list[Notification]:
    """Outbox entries for the final intents among `intents`, batched per follower and signal."""
    described = [(intent, order_event(intent)) for intent in intents]
    settled = [(intent, event) for intent, event in described if event is not None]
    return [
        Notification(
            id=notification_id,
            user_id=intent.user_id,
            event=event,
            text=text,
            created_at=now,
            batch_key=intent.signal_id,
        )
        for ((intent, (event, text)), notification_id) in zip(
            settled, new_ids(len(settled)), strict=True
        )
    ]


def order_event(intent: OrderIntent) -> tuple[str, str] | None:
    """(event, text) for a settled order intent; None while it is not final."""
    if intent.status is IntentStatus.FILLED:
        price = f" at {intent.average_price}" if intent.average_price is not None else ""
        quantity = intent.filled_quantity if intent.filled_quantity is not None else intent.quantity
        return "order.filled", f"{intent.symbol} {intent.side} {quantity}{price} filled"
    if intent.status is IntentStatus.REJECTED:
        return "order.rejected", f"{intent.symbol} {intent.side} rejected: {intent.reason}"
    if intent.status is IntentStatus.SKIPPED:
        return "order.skipped", f"{intent.symbol} skipped: {intent.reason}"
    return None


def pack_messages(texts: Sequence[str]) -> list[tuple[str, list[int]]]:
    """Texts of one batch as few messages as Telegram's length limit allows.

    Each message comes with the indexes of the texts it carries, in order.
    """
    packed: list[tuple[str, list[int]]] = []
    current, carried = "", list[int]()
    for index, text in enumerate(texts):
        text = text[:MAX_MESSAGE_CHARS]
        candidate = f"{current}\n{text}" if carried else text
        if len(candidate) > MAX_MESSAGE_CHARS:
            packed.append((current, carried))
            candidate, carried = text, []
        current = candidate
        carried.append(index)
    if carried:
        packed.append((current, carried))
    return packed


class FloodControl:
    """Telegram's limits: about one message per second per chat, about 30 per second overall.

    Pure bookkeeping: callers pass the time and wait for what `wait_for` says. A 429 with
    `retry_after` holds the whole bot back (Telegram means the bot, not only that chat).
    """

    def __init__(
        self,
        *,
        per_chat: timedelta = timedelta(seconds=1),
        overall_per_second: int = 30,
    ) -> None:
        self._per_chat = per_chat
        self._overall = overall_per_second
        self._last_by_chat: dict[str, datetime] = {}
        self._recent: list[datetime] = []
        self._blocked_until: datetime | None = None

    def wait_for(self, chat_id: str, now: datetime) -> timedelta:
        """How long to wait before a message to `chat_id` may go out (zero: now)."""
        waits = [timedelta(0)]
        if self._blocked_until is not None:
            waits.append(self._blocked_until - now)
        last = self._last_by_chat.get(chat_id)
        if last is not None:
            waits.append(last + self._per_chat - now)
        window = [t for t in self._recent if now - t < timedelta(seconds=1)]
        self._recent = window
        if len(window) >= self._overall:
            waits.append(window[-self._overall] + timedelta(seconds=1) - now)
        return max(waits)

    def sent(self, chat_id: str, now: datetime) -> None:
        self._last_by_chat[chat_id] = now
        self._recent.append(now)
        if len(self._last_by_chat) > 10_000:  # forget chats that are long past their spacing
            self._last_by_chat = {
                chat: at for chat, at in self._last_by_chat.items() if now - at < self._per_chat
            }

    def retry_after(self, seconds: float, now: datetime) -> None:
        until = now + timedelta(seconds=seconds)
        if self._blocked_until is None or until > self._blocked_until:
            self._blocked_until = until


def group_batches(pending: Sequence[Notification]) -> Mapping[tuple[str, str], list[Notification]]:
    """Outbox entries grouped per (user, batch): a signal's results become one message."""
    groups: dict[tuple[str, str], list[Notification]] = {}
    for item in sorted(pending, key=lambda n: (n.created_at, n.id)):
        groups.setdefault((item.user_id, item.batch_key or item.id), []).append(item)
    return groups


class FloodWait(DeliveryFailed):
    """The chat service asks us to wait `retry_after` seconds before the next message."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited: retry after {retry_after:g} s")
        self.retry_after = retry_after
