"""Linking a Telegram chat to a user, choosing channels, and the bot's commands."""

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from mimic.application.panic import PullPanic
from mimic.application.portfolio import ViewPortfolio
from mimic.domain.accounts import User
from mimic.domain.errors import DomainError, NotFound
from mimic.domain.notifications import (
    EVENTS,
    Channel,
    ChatMessage,
    default_channels,
    parse_channels,
)
from mimic.ports.notifications import ChatMessenger, NotificationPreferences, TelegramLinks
from mimic.ports.repositories import TransactionManager, UserRepository
from mimic.ports.services import Clock

LINK_CODE_LIFETIME = timedelta(minutes=10)

HELP = (
    "Mimic bot commands:\n"
    "/status - open positions and unrealized PnL\n"
    "/balance - balance of each exchange account\n"
    "/pause - stop copying new entries to you\n"
    "/resume - copy again\n"
    "/panic <code> - admins: close every position everywhere and pause copying"
)


PRIVATE_ONLY = (
    "Mimic answers only in a private chat with the bot: groups and channels cannot be linked "
    "or give commands."
)


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LinkOffer:
    code: str
    deep_link: str | None
    expires_in_seconds: int


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    telegram_linked: bool
    telegram_available: bool
    channels: Mapping[str, frozenset[Channel]]
    chosen: frozenset[str]


@dataclass(frozen=True, slots=True)
class BotUsername:
    """The bot's @name, for t.me deep links (None: the user types /start <code> by hand)."""

    value: str | None


class ManageNotifications:
    """A user's Telegram link and per-event channel choices."""

    def __init__(
        self,
        links: TelegramLinks,
        preferences: NotificationPreferences,
        messenger: ChatMessenger,
        bot_username: BotUsername,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._links = links
        self._preferences = preferences
        self._messenger = messenger
        self._bot_username = bot_username
        self._tx = tx
        self._clock = clock

    async def offer_link(self, user_id: str) -> LinkOffer:
        code = secrets.token_urlsafe(16)
        await self._links.add_code(
            _hash_code(code), user_id, self._clock.now() + LINK_CODE_LIFETIME
        )
        await self._tx.commit()
        name = self._bot_username.value
        return LinkOffer(
            code=code,
            deep_link=f"https://t.me/{name}?start={code}" if name else None,
            expires_in_seconds=int(LINK_CODE_LIFETIME.total_seconds()),
        )

    async def unlink(self, user_id: str) -> None:
        if not await self._links.unlink(user_id):
            raise NotFound("no Telegram chat is linked")
        await self._tx.commit()

    async def settings(self, user_id: str) -> NotificationSettings:
        linked = user_id in await self._links.chats_of([user_id])
        chosen = (await self._preferences.choices_of([user_id])).get(user_id, {})
        usable_telegram = linked and self._messenger.enabled
        channels = {
            event: chosen.get(event, default_channels(event, telegram_linked=usable_telegram))
            for event in EVENTS
        }
        return NotificationSettings(
            telegram_linked=linked,
            telegram_available=self._messenger.enabled,
            channels=channels,
            chosen=frozenset(chosen),
        )

    async def choose(self, user_id: str, choices: Mapping[str, list[str]]) -> NotificationSettings:
        parsed = {event: parse_channels(event, names) for event, names in choices.items()}
        await self._preferences.choose(user_id, parsed)
        await self._tx.commit()
        return await self.settings(user_id)


class AnswerBotMessage:
    """Turns one chat message into the bot's reply (None: nothing to say)."""

    def __init__(
        self,
        links: TelegramLinks,
        users: UserRepository,
        portfolio: ViewPortfolio,
        panic: PullPanic,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._links = links
        self._users = users
        self._portfolio = portfolio
        self._panic = panic
        self._tx = tx
        self._clock = clock

    async def __call__(self, message: ChatMessage) -> str | None:
        words = message.text.strip().split()
        if not words or not words[0].startswith("/"):
            return None
        if not message.from_its_own_person:
            return PRIVATE_ONLY
        chat_id = message.chat_id
        # "/status@MimicBot" names the bot; the command is what precedes the @.
        command, args = words[0].split("@", 1)[0].lower(), words[1:]
        if command == "/start":
            return await self._start(chat_id, args)
        user = await self._linked_user(chat_id)
        if user is None:
            return "This chat is not linked. Open your Mimic profile and link Telegram."
        try:
            if command == "/status":
                return await self._status(user)
            if command == "/balance":
                return await self._balance(user)
            if command in ("/pause", "/resume"):
                return await self._set_paused(user, paused=command == "/pause")
            if command == "/panic":
                return await self._pull_panic(user, args)
        except DomainError as exc:
            return f"Refused: {exc}"
        return HELP

    async def _start(self, chat_id: str, args: list[str]) -> str:
        if not args:
            return "Welcome to Mimic. Link this chat from your profile, then send /help."
        user_id = await self._links.take_code(_hash_code(args[0]), self._clock.now())
        if user_id is None:
            await self._tx.commit()
            return "This link code is unknown, used or expired. Ask your profile for a new one."
        await self._links.link(user_id, chat_id, self._clock.now())
        await self._tx.commit()
        user = await self._users.get(user_id)
        name = user.username if user else "your account"
        return f"Linked to {name}. You will get your Mimic notifications here. Send /help."

    async def _linked_user(self, chat_id: str) -> User | None:
        user_id = await self._links.user_of_chat(chat_id)
        user = await self._users.get(user_id) if user_id else None
        return user if user is not None and user.active else None

    async def _status(self, user: User) -> str:
        lines = []
        for held in await self._portfolio.positions(user.id):
            name = f"{held.account.exchange} {held.account.label}"
            if held.error:
                lines.append(f"{name}: could not read ({held.error})")
            for p in held.positions:
                pnl = p.unrealized_pnl
                pnl_text = f", PnL {pnl:.2f}" if pnl is not None else ""
                lines.append(
                    f"{name}: {p.symbol} {p.side} {p.quantity} @ {p.entry_price}{pnl_text}"
                )
        paused = " (copying paused)" if user.settings.paused else ""
        return f"Positions{paused}:\n" + ("\n".join(lines) if lines else "no open position")

    async def _balance(self, user: User) -> str:
        lines = []
        for held in await self._portfolio.balances(user.id):
            name = f"{held.account.exchange} {held.account.label}"
            if held.balance is None:
                lines.append(f"{name}: could not read ({held.error})")
            else:
                b = held.balance
                lines.append(
                    f"{name}: equity {b.equity:.2f} {b.currency}, available {b.available:.2f}"
                )
        return "Balance:\n" + ("\n".join(lines) if lines else "no approved exchange account")

    async def _set_paused(self, user: User, *, paused: bool) -> str:
        user.settings = replace(user.settings, paused=paused)
        await self._users.save(user)
        await self._tx.commit()
        if paused:
            return "Copying paused: new entries are no longer copied to you (closes still are)."
        return "Copying resumed: the next signals are copied to you."

    async def _pull_panic(self, user: User, args: list[str]) -> str:
        if not user.is_admin:
            return "Only an admin can pull the panic switch."
        if len(args) != 1:
            return "Usage: /panic <one-time code from your authenticator>"
        run = await self._panic(user, args[0], ip=None, via="telegram")
        closed = sum(len(a.closed) for a in run.accounts)
        lines = [f"{a.exchange} {a.account_id[:8]}: {a.summary}" for a in run.accounts]
        return (
            f"Panic run {run.id[:8]}: {closed} positions closed; copying is paused.\n"
            + "\n".join(lines)
        )
