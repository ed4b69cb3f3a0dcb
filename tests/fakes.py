"""In-memory adapters for the ports: fast unit tests with no sockets and no database.

These are adapters, not mocks: each subclasses the Protocol it implements and behaves like
the real thing in the ways the application relies on (unique constraints, leases, copies
in and out). Repositories store and hand out deep copies, as a database would, so a test
cannot pass because an interactor and a repository share one object.
"""

import asyncio
import builtins
import copy
import functools
import json
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mimic.adapters.exchange_base import ExchangeGatewayBase
from mimic.adapters.notifier_base import NotifierBase
from mimic.domain.accounts import (
    AccountCheck,
    ConnectionStatus,
    ExchangeAccount,
    SignalSource,
    User,
)
from mimic.domain.audit import AuditEvent
from mimic.domain.errors import (
    BelowMinNotional,
    Conflict,
    ExchangeError,
    ExchangeUnavailable,
    InvalidPrecision,
    OrderRejected,
    OutcomeUnknown,
    ReduceOnlyRejected,
    UnknownSymbol,
)
from mimic.domain.fanout import FanoutPart
from mimic.domain.market import MarketRules
from mimic.domain.messages import Message, MessageThread, ThreadSummary
from mimic.domain.orders import (
    NO_FILTERS,
    IntentStatus,
    OrderFill,
    OrderFilters,
    OrderIntent,
    OrderLeg,
    OrderRequest,
    OrderSide,
)
from mimic.domain.password_reset import PasswordResetToken
from mimic.domain.performance import AccountFill
from mimic.domain.positions import Balance, Position, PositionSide
from mimic.domain.risk import PlatformRiskSettings
from mimic.domain.signal import Signal, SignalStatus, key_expires
from mimic.ports.accounts import MessageRepository, PasswordResetTokens
from mimic.ports.exchange import ExchangeGateway, ExchangeGateways, PaperMarket, SymbolCatalog
from mimic.ports.protection import PositionIntentRepository, PriceFeed
from mimic.ports.repositories import (
    AuditLog,
    ExchangeAccountRepository,
    OrderIntentRepository,
    SettingsRepository,
    SignalRepository,
    SignalSourceRepository,
    TransactionManager,
    UserRepository,
)
from mimic.ports.services import Clock, PasswordHasher, SignalQueue

EXCHANGEINFO = (
    Path(__file__).resolve().parent.parent
    / "src"
    / "mimic"
    / "adapters"
    / "paper"
    / "exchangeinfo.json"
)

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# --- exchange rules --------------------------------------------------------------------


def parse_market_rules(symbol_info: Mapping[str, Any]) -> MarketRules:
    """MarketRules from one entry of Binance's `exchangeInfo.symbols` (market orders)."""
    filters = {f["filterType"]: f for f in symbol_info["filters"]}
    lot = filters["MARKET_LOT_SIZE"]
    return MarketRules(
        symbol=symbol_info["symbol"],
        step_size=Decimal(lot["stepSize"]),
        tick_size=Decimal(filters["PRICE_FILTER"]["tickSize"]),
        min_qty=Decimal(lot["minQty"]),
        max_qty=Decimal(lot["maxQty"]),
        min_notional=Decimal(filters["MIN_NOTIONAL"]["notional"]),
    )


@functools.cache
def binance_rules() -> Mapping[str, MarketRules]:
    """The real USD-M rules the paper exchange is seeded with, by symbol."""
    info = json.loads(EXCHANGEINFO.read_text())
    return MappingProxyType({s["symbol"]: parse_market_rules(s) for s in info["symbols"]})


def rules_for(symbol: str) -> MarketRules:
    return binance_rules()[symbol]


# --- services ----------------------------------------------------------------------------


class FixedClock(Clock):
    """Time stands still until a test sets or advances it; always timezone-aware UTC."""

    def __init__(self, now: datetime = START) -> None:
        self._now = START
        self.reads = 0  # how often it was asked: periodic jobs show their rounds by it
        self.slept: list[float] = []
        self.set(now)

    def now(self) -> datetime:
        self.reads += 1
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    async def sleep(self, seconds: float) -> None:
        """No real waiting: the time moves on, and the wait is kept in `slept`."""
        self.slept.append(seconds)
        self._now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


class FakeTransactionManager(TransactionManager):
    def __init__(self) -> None:
        self.commits = 0
        self.rollbacks = 0

    async def commit(self) -> None:
        self.commits += 1

    async def rollback(self) -> None:
        self.rollbacks += 1


class RecordingNotifier(NotifierBase):
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def notify(self, user_id: str, event: str, text: str) -> None:
        self.sent.append((user_id, event, text))

    def about(self, prefix: str) -> list[tuple[str, str, str]]:
        """What was sent on events starting with `prefix` ("position.", "guardrail.")."""
        return [sent for sent in self.sent if sent[1].startswith(prefix)]

    def events(self, prefix: str = "") -> list[str]:
        return [event for _, event, _ in self.about(prefix)]


class RecordingSignalQueue(SignalQueue):
    def __init__(self) -> None:
        self.enqueued: list[str] = []
        self.parts: list[tuple[str, int]] = []

    async def enqueue_execution(self, signal_id: str, part: int = 0) -> None:
        self.enqueued.append(signal_id)
        self.parts.append((signal_id, part))


class PlainPasswordHasher(PasswordHasher):
    """ "plain$" + password: instant. Hashes with LEGACY_PREFIX verify but need a rehash."""

    PREFIX = "plain$"
    LEGACY_PREFIX = "legacy$"

    def __init__(self) -> None:
        self.hash_calls = 0
        self.verify_calls = 0

    async def hash(self, password: str) -> str:
        self.hash_calls += 1
        return self.PREFIX + password

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verify_calls += 1
        return password_hash in (self.PREFIX + password, self.LEGACY_PREFIX + password)

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(self.PREFIX)


class FakeSymbolCatalog(SymbolCatalog):
    def __init__(self, symbols: Iterable[str] | None = None) -> None:
        self.symbols = set(binance_rules() if symbols is None else symbols)

    async def is_tradable(self, symbol: str) -> bool:
        return symbol in self.symbols


class FakePaperMarket(PaperMarket):
    def __init__(self) -> None:
        self.prices: dict[str, Decimal] = {}
        self.opened: list[str] = []

    async def set_mark_price(self, symbol: str, price: Decimal) -> None:
        self.prices[symbol] = price

    async def mark_prices(self) -> dict[str, Decimal]:
        return dict(self.prices)

    async def open_account(self, account_id: str) -> None:
        if account_id not in self.opened:
            self.opened.append(account_id)


# --- repositories ------------------------------------------------------------------------


class InMemoryUserRepository(UserRepository):
    def __init__(self) -> None:
        self._rows: dict[str, User] = {}

    def _check_unique(self, user: User) -> None:
        for other in self._rows.values():
            if other.id == user.id:
                continue
            if other.username.lower() == user.username.lower():
                raise Conflict("username is taken")
            if other.email.lower() == user.email.lower():
                raise Conflict("email is already registered")

    async def add(self, user: User) -> None:
        if user.id in self._rows:
            raise Conflict(f"user {user.id} exists")
        self._check_unique(user)
        self._rows[user.id] = copy.deepcopy(user)

    async def get(self, user_id: str) -> User | None:
        return copy.deepcopy(self._rows.get(user_id))

    async def get_by_username(self, username: str) -> User | None:
        found = next((u for u in self._rows.values() if u.username == username), None)
        return copy.deepcopy(found)

    async def get_by_referral_code(self, code: str) -> User | None:
        found = next((u for u in self._rows.values() if u.referral_code == code), None)
        return copy.deepcopy(found)

    async def usernames(self, user_ids: Collection[str]) -> dict[str, str]:
        return {i: self._rows[i].username for i in user_ids if i in self._rows}

    async def list(self, *, offset: int = 0, limit: int = 100) -> list[User]:
        ordered = sorted(self._rows.values(), key=lambda u: (u.created_at, u.id))
        return copy.deepcopy(ordered[offset : offset + limit])

    async def save(self, user: User) -> None:
        if user.id not in self._rows:
            return  # an UPDATE of a missing row changes nothing
        self._check_unique(user)
        stored = copy.deepcopy(user)
        stored.created_at = self._rows[user.id].created_at
        self._rows[user.id] = stored

    def all(self) -> builtins.list[User]:
        return copy.deepcopy(builtins.list(self._rows.values()))

    async def get_by_email(self, email: str) -> User | None:
        found = next((u for u in self._rows.values() if u.email.lower() == email.lower()), None)
        return copy.deepcopy(found)

    async def count_failed_login(self, user_id: str) -> int:
        user = self._rows[user_id]
        user.failed_logins += 1
        return user.failed_logins

    async def set_sign_in_state(
        self,
        user_id: str,
        *,
        failed_logins: int,
        locked_until: datetime | None,
        password_hash: str | None = None,
    ) -> None:
        user = self._rows[user_id]
        user.failed_logins = failed_logins
        user.locked_until = locked_until
        if password_hash is not None:
            user.password_hash = password_hash

    async def search(
        self, *, query: str | None, offset: int, limit: int, include_deleted: bool = False
    ) -> tuple[builtins.list[User], int]:
        wanted = (query or "").lower()
        found = [
            u
            for u in sorted(self._rows.values(), key=lambda u: (u.created_at, u.id))
            if (wanted in u.username.lower() or wanted in u.email)
            and (include_deleted or u.deleted_at is None)
        ]
        return copy.deepcopy(found[offset : offset + limit]), len(found)


class InMemorySignalSourceRepository(SignalSourceRepository):
    def __init__(self) -> None:
        self._rows: dict[str, SignalSource] = {}
        self.used: set[str] = set()  # ids of sources signals came from

    async def add(self, source: SignalSource) -> None:
        if source.id in self._rows or any(
            s.passphrase_hash == source.passphrase_hash for s in self._rows.values()
        ):
            raise Conflict("signal source exists")
        self._rows[source.id] = copy.deepcopy(source)

    async def get_by_passphrase_hash(self, passphrase_hash: str) -> SignalSource | None:
        found = next((s for s in self._rows.values() if s.passphrase_hash == passphrase_hash), None)
        return copy.deepcopy(found)

    async def count(self) -> int:
        return len(self._rows)

    async def list_all(self) -> list[SignalSource]:
        return copy.deepcopy(sorted(self._rows.values(), key=lambda s: (s.name, s.id)))

    async def get(self, source_id: str) -> SignalSource | None:
        return copy.deepcopy(self._rows.get(source_id))

    async def save(self, source: SignalSource) -> None:
        if source.id in self._rows:
            self._rows[source.id] = copy.deepcopy(source)

    async def delete_unused(self, source_id: str) -> bool:
        if source_id not in self._rows or source_id in self.used:
            return False
        del self._rows[source_id]
        return True

    def all(self) -> list[SignalSource]:
        return copy.deepcopy(list(self._rows.values()))


class InMemorySignalRepository(SignalRepository):
    def __init__(self) -> None:
        self._rows: dict[str, Signal] = {}

    async def add_unless_duplicate(
        self, signal: Signal, *, expiring_after: datetime
    ) -> tuple[Signal, bool]:
        for stored in self._rows.values():
            if stored.source_id != signal.source_id or stored.dedupe_key != signal.dedupe_key:
                continue
            if key_expires(stored.dedupe_key) and stored.received_at <= expiring_after:
                continue  # a body hash outside the window no longer counts
            return copy.deepcopy(stored), True
        if signal.id in self._rows:
            raise Conflict(f"signal {signal.id} exists")
        self._rows[signal.id] = copy.deepcopy(signal)
        return copy.deepcopy(signal), False

    async def get(self, signal_id: str) -> Signal | None:
        return copy.deepcopy(self._rows.get(signal_id))

    async def list_recent(self, *, limit: int, source_id: str | None = None) -> list[Signal]:
        chosen = [s for s in self._rows.values() if source_id in (None, s.source_id)]
        ordered = sorted(chosen, key=lambda s: (s.received_at, s.id), reverse=True)
        return copy.deepcopy(ordered[:limit])

    async def source_ids(self, signal_ids: Collection[str]) -> dict[str, str]:
        return {i: self._rows[i].source_id for i in signal_ids if i in self._rows}

    async def set_status(self, signal_id: str, status: SignalStatus) -> None:
        if signal_id in self._rows:
            self._rows[signal_id].status = status

    async def set_reference(self, signal_id: str, price: Decimal, at: datetime) -> None:
        stored = self._rows.get(signal_id)
        if stored is not None and stored.reference_price is None:
            stored.reference_price, stored.reference_at = price, at

    async def list_next_in_line(self) -> list[Signal]:
        ordered = sorted(self._rows.values(), key=lambda s: (s.received_at, s.id))
        return copy.deepcopy(
            [
                s
                for s in ordered
                if s.status is not SignalStatus.DONE and not await self.has_unfinished_before(s)
            ]
        )

    async def first_unfinished(self, source_id: str, symbol: str) -> Signal | None:
        ordered = sorted(self._rows.values(), key=lambda s: (s.received_at, s.id))
        found = next(
            (
                s
                for s in ordered
                if s.source_id == source_id
                and s.params.symbol == symbol
                and s.status is not SignalStatus.DONE
            ),
            None,
        )
        return copy.deepcopy(found)

    async def finish_part(self, signal_id: str, part: FanoutPart) -> bool:
        stored = self._rows.get(signal_id)
        if stored is None:
            return False
        stored.finished_parts = stored.finished_parts | {part.index}
        if len(stored.finished_parts) == part.count:
            stored.status = SignalStatus.DONE
        return stored.status is SignalStatus.DONE

    async def has_unfinished_before(self, signal: Signal) -> bool:
        # Ties on received_at are broken by id, as the SQL adapter does.
        return any(
            s.source_id == signal.source_id
            and s.params.symbol == signal.params.symbol
            and s.status is not SignalStatus.DONE
            and s.id != signal.id
            and (s.received_at, s.id) < (signal.received_at, signal.id)
            for s in self._rows.values()
        )

    def all(self) -> list[Signal]:
        return copy.deepcopy(list(self._rows.values()))

    def lose_done_marks(self, signal_id: str) -> None:
        """As if the signal's done mark and its parts' finish marks never got stored."""
        stored = self._rows[signal_id]
        stored.status, stored.finished_parts = SignalStatus.PROCESSING, frozenset()


class InMemoryExchangeAccountRepository(ExchangeAccountRepository):
    def __init__(self, users: InMemoryUserRepository) -> None:
        self._users = users
        self._rows: dict[str, ExchangeAccount] = {}

    def _ordered(self) -> list[ExchangeAccount]:
        return sorted(self._rows.values(), key=lambda a: (a.created_at, a.id))

    async def add(self, account: ExchangeAccount) -> None:
        if account.id in self._rows:
            raise Conflict(f"exchange account {account.id} exists")
        self._rows[account.id] = copy.deepcopy(account)

    async def get(self, account_id: str) -> ExchangeAccount | None:
        return copy.deepcopy(self._rows.get(account_id))

    async def get_many(self, account_ids: Collection[str]) -> list[ExchangeAccount]:
        wanted = set(account_ids)
        return copy.deepcopy([a for a in self._ordered() if a.id in wanted])

    async def list_for_user(self, user_id: str) -> list[ExchangeAccount]:
        return copy.deepcopy([a for a in self._ordered() if a.user_id == user_id])

    async def list_by_status(self, status: ConnectionStatus | None) -> list[ExchangeAccount]:
        return copy.deepcopy([a for a in self._ordered() if status is None or a.status is status])

    async def save(self, account: ExchangeAccount) -> None:
        if account.id in self._rows:
            stored = copy.deepcopy(account)
            stored.created_at = self._rows[account.id].created_at
            self._rows[account.id] = stored

    async def delete(self, account_id: str) -> None:
        self._rows.pop(account_id, None)

    async def list_copy_candidates(
        self, *, monitored_only: bool = False, part: FanoutPart | None = None
    ) -> list[tuple[ExchangeAccount, User]]:
        candidates = []
        for account in self._ordered():
            if account.status is not ConnectionStatus.APPROVED:
                continue
            if part is not None and not part.holds(account.id):
                continue
            user = await self._users.get(account.user_id)
            if monitored_only and (user is None or not user.protection.monitored):
                continue
            if user is not None and user.active:
                candidates.append((copy.deepcopy(account), user))
        return candidates

    async def list_streamed(self) -> list[ExchangeAccount]:
        return [account for account, _ in await self.list_copy_candidates()]


class InMemoryOrderIntentRepository(OrderIntentRepository):
    """Unique per (signal, account, leg); claims follow the port and the SQL adapter.

    A claim takes intents that are pending, or submitting with a lease that ran out; it
    marks them submitting, adds one attempt and sets the lease. A final result drops the
    lease; an unsettled one keeps it.
    """

    def __init__(self) -> None:
        self._rows: dict[str, OrderIntent] = {}
        # Where an order's source is read from (SQL joins the signals table): a world
        # shares its signals here.
        self.signals = InMemorySignalRepository()
        self.leases: dict[str, datetime | None] = {}
        self.claims: list[list[str]] = []

    async def add_new(
        self, intents: Sequence[OrderIntent], *, lease_until: datetime | None = None
    ) -> set[str]:
        taken = {(i.signal_id, i.account_id, i.leg) for i in self._rows.values()}
        inserted: set[str] = set()
        for intent in intents:
            key = (intent.signal_id, intent.account_id, intent.leg)
            # Without a signal (the position monitor's orders) only the id is unique.
            if (intent.signal_id is not None and key in taken) or intent.id in self._rows:
                continue
            taken.add(key)
            inserted.add(intent.id)
            self._rows[intent.id] = copy.deepcopy(intent)
            held = intent.status is IntentStatus.SUBMITTING
            self.leases[intent.id] = lease_until if held else None
        return inserted

    async def list_for_signal(
        self, signal_id: str, *, part: FanoutPart | None = None
    ) -> list[OrderIntent]:
        found = [
            i
            for i in self._rows.values()
            if i.signal_id == signal_id and (part is None or part.holds(i.account_id))
        ]
        return copy.deepcopy(sorted(found, key=lambda i: (i.created_at, i.id)))

    async def signals_in_hand(self, signal_ids: Collection[str], *, now: datetime) -> set[str]:
        return {
            i.signal_id
            for i in self._rows.values()
            if i.signal_id in signal_ids and (self.leases.get(i.id) or now) > now
        }

    async def list_for_user(
        self, user_id: str, *, limit: int, filters: OrderFilters = NO_FILTERS
    ) -> list[OrderIntent]:
        sources = await self.signals.source_ids({i.signal_id for i in self._rows.values()})
        found = [
            i
            for i in self._rows.values()
            if i.user_id == user_id and filters.admits(i, sources.get(i.signal_id or ""))
        ]
        found.sort(key=lambda i: (i.created_at, i.id), reverse=True)
        return copy.deepcopy(found[:limit])

    async def claim(
        self, intent_ids: Sequence[str], *, now: datetime, lease_until: datetime
    ) -> list[OrderIntent]:
        claimed = []
        for intent_id in dict.fromkeys(intent_ids):
            stored = self._rows.get(intent_id)
            if stored is None:
                continue
            lease = self.leases[intent_id]
            takeable = stored.status is IntentStatus.PENDING or (
                stored.status is IntentStatus.SUBMITTING and (lease is None or lease < now)
            )
            if not takeable:
                continue
            stored.status = IntentStatus.SUBMITTING
            stored.attempts += 1
            self.leases[intent_id] = lease_until
            claimed.append(copy.deepcopy(stored))
        self.claims.append([i.id for i in claimed])
        return claimed

    async def save_results(self, intents: Sequence[OrderIntent]) -> None:
        for intent in intents:
            stored = self._rows.get(intent.id)
            if stored is None or stored.attempts != intent.attempts:
                continue  # claimed again since: that worker's now
            stored.status = intent.status
            stored.reason = intent.reason
            stored.exchange_order_id = intent.exchange_order_id
            stored.filled_quantity = intent.filled_quantity
            stored.average_price = intent.average_price
            stored.fee = intent.fee
            stored.updated_at = intent.updated_at
            stored.stop_loss_price = intent.stop_loss_price
            stored.take_profit_price = intent.take_profit_price
            stored.protection_error = intent.protection_error
            stored.acknowledged_at = intent.acknowledged_at
            if intent.status.is_final:
                self.leases[intent.id] = None

    def all(self) -> list[OrderIntent]:
        return copy.deepcopy(list(self._rows.values()))


class InMemoryAuditLog(AuditLog):
    def __init__(self) -> None:
        self._events: builtins.list[AuditEvent] = []

    async def record(self, event: AuditEvent) -> None:
        self._events.append(event)

    async def list(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        action: str | None = None,
        actor_id: str | None = None,
    ) -> builtins.list[AuditEvent]:
        def wanted(event: AuditEvent) -> bool:
            if action is not None and not (
                event.action.startswith(action) if action.endswith(".") else event.action == action
            ):
                return False
            return actor_id is None or event.actor_id == actor_id

        newest_first = sorted(self._events, key=lambda e: (e.at, e.id), reverse=True)
        return [e for e in newest_first if wanted(e)][offset : offset + limit]


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


class InMemoryPositionIntentRepository(PositionIntentRepository):
    """The position monitor's view of the same rows as an InMemoryOrderIntentRepository."""

    def __init__(self, intents: InMemoryOrderIntentRepository) -> None:
        self._intents = intents

    async def latest_entries(self, account_ids: Collection[str]) -> list[OrderIntent]:
        latest: dict[tuple[str, str], OrderIntent] = {}
        for intent in self._intents._rows.values():
            if (
                intent.account_id in account_ids
                and intent.leg is OrderLeg.ENTRY
                and intent.status is IntentStatus.FILLED
            ):
                key = (intent.account_id, intent.symbol)
                if key not in latest or latest[key].created_at < intent.created_at:
                    latest[key] = intent
        return copy.deepcopy([latest[k] for k in sorted(latest)])

    async def latest_entries_of(self, positions: Collection[tuple[str, str]]) -> list[OrderIntent]:
        wanted = set(positions)
        entries = await self.latest_entries({account_id for account_id, _ in wanted})
        return [e for e in entries if (e.account_id, e.symbol) in wanted]

    async def children(self, parent_ids: Collection[str]) -> list[OrderIntent]:
        found = [i for i in self._intents._rows.values() if i.parent_id in parent_ids]
        return copy.deepcopy(sorted(found, key=lambda i: (i.created_at, i.id)))

    async def add_if_absent(self, intent: OrderIntent, *, lease_until: datetime | None) -> bool:
        if intent.id in self._intents._rows:
            return False
        self._intents._rows[intent.id] = copy.deepcopy(intent)
        held = intent.status is IntentStatus.SUBMITTING
        self._intents.leases[intent.id] = lease_until if held else None
        return True

    async def add_many_if_absent(self, intents: Sequence[OrderIntent]) -> set[str]:
        return {i.id for i in intents if await self.add_if_absent(i, lease_until=None)}

    async def has_exchange_order(self, account_id: str, exchange_order_id: str) -> bool:
        return any(
            i.account_id == account_id and i.exchange_order_id == exchange_order_id
            for i in self._intents._rows.values()
        )

    async def save_protection(self, entries: Sequence[OrderIntent]) -> None:
        for entry in entries:
            stored = self._intents._rows[entry.id]
            stored.stop_loss_price = entry.stop_loss_price
            stored.take_profit_price = entry.take_profit_price
            stored.protection_error = entry.protection_error


class DictPriceFeed(PriceFeed):
    """Prices set by the test; every symbol counts as followed."""

    def __init__(self, prices: Mapping[str, Decimal] | None = None) -> None:
        self.prices: dict[str, Decimal] = dict(prices or {})

    async def subscribe(self, symbols: Collection[str]) -> None:
        """Nothing to subscribe to."""

    async def latest(self, symbols: Collection[str]) -> dict[str, Decimal]:
        return {s: self.prices[s] for s in symbols if s in self.prices}


class InMemorySettingsRepository(SettingsRepository):
    def __init__(self, platform: PlatformRiskSettings | None = None) -> None:
        self._platform = platform or PlatformRiskSettings()
        self._copying_paused = False

    async def get_platform_risk(self) -> PlatformRiskSettings:
        return self._platform

    async def save_platform_risk(self, settings: PlatformRiskSettings) -> None:
        self._platform = settings

    async def copying_paused(self) -> bool:
        return self._copying_paused

    async def set_copying_paused(self, paused: bool) -> None:
        self._copying_paused = paused


# --- exchange ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _PlaceFailure:
    error: Exception
    after_execution: bool
    # Executes late: at this lookup of its client id (1: the first), not before.
    executes_at_lookup: int | None = None


DEFAULT_FEE_RATE = Decimal("0.0004")


class FakeExchange(ExchangeGatewayBase):
    """One follower account on a Binance-like USD-M venue, fills at the mark price; what it
    does not define it does as every real venue's gateway does (ExchangeGatewayBase).

    Orders are checked against the real market rules (step, min/max quantity, min notional,
    reduce-only). Failures are programmed per call: `fail_next_place` refuses without
    executing; `execute_then_raise` executes, then raises (a timeout after the fact).
    """

    def __init__(
        self,
        *,
        equity: Decimal = Decimal(10000),
        mark_prices: Mapping[str, Decimal] | None = None,
        rules: Mapping[str, MarketRules] | None = None,
        currency: str = "USDT",
        fee_rate: Decimal = DEFAULT_FEE_RATE,
        clock: Clock | None = None,
    ) -> None:
        self.rules: dict[str, MarketRules] = dict(binance_rules() if rules is None else rules)
        self.wallet_balance = equity
        self.currency = currency
        self.fee_rate = fee_rate
        self.mark_prices: dict[str, Decimal] = dict(mark_prices or {})
        self.positions: dict[str, Position] = {}
        self.leverage: dict[str, int] = {}
        self.placed: list[OrderRequest] = []
        self.requests: list[OrderRequest] = []
        self.orders: dict[str, OrderFill] = {}
        self.calls: list[tuple[str, str]] = []
        self.read_error: ExchangeError | None = None
        self.find_error: ExchangeError | None = None
        self.protective: dict[str, list[tuple[str, Decimal]]] = {}
        self._place_failures: deque[_PlaceFailure] = deque()
        self._order_seq = 0
        self.clock = clock if clock is not None else FixedClock()
        self.fills: list[AccountFill] = []
        self.window = timedelta(seconds=10)  # the receive window it reports
        self.sees_every_order = False  # whether its lookup by client id is the whole story
        self.recent_error: ExchangeError | None = None
        self._late: dict[str, tuple[OrderRequest, int]] = {}

    @property
    def receive_window(self) -> timedelta:
        return self.window

    @property
    def lookup_sees_every_order(self) -> bool:
        return self.sees_every_order

    # programming the fake

    def set_equity(self, equity: Decimal) -> None:
        self.wallet_balance = equity

    def set_mark_price(self, symbol: str, price: Decimal) -> None:
        self.mark_prices[symbol] = price

    def set_position(
        self,
        symbol: str,
        side: PositionSide,
        quantity: Decimal,
        entry_price: Decimal | None = None,
        leverage: int = 20,
    ) -> None:
        entry = self.mark_prices[symbol] if entry_price is None else entry_price
        self.positions[symbol] = Position(symbol, side, quantity, entry, leverage)

    def fail_next_place(self, error: Exception) -> None:
        """The next order is refused with `error` and never executed."""
        self._place_failures.append(_PlaceFailure(error, after_execution=False))

    def execute_then_raise(self, error: Exception | None = None) -> None:
        """The next order executes, then the call fails (default: OutcomeUnknown)."""
        raised = error if error is not None else OutcomeUnknown("timeout after 10s")
        self._place_failures.append(_PlaceFailure(raised, after_execution=True))

    def execute_late(self, at_lookup: int, error: ExchangeError | None = None) -> None:
        """The next order's answer is lost (default: OutcomeUnknown) and it executes only
        when its client id is looked up for the `at_lookup`-th time: a late execution."""
        raised = error if error is not None else OutcomeUnknown("Timeout waiting for response")
        self._place_failures.append(
            _PlaceFailure(raised, after_execution=False, executes_at_lookup=at_lookup)
        )

    def order_calls(self) -> list[tuple[str, str]]:
        """("place" | "find", client order id) in the order they reached the exchange."""
        return [c for c in self.calls if c[0] in ("place", "find")]

    # the port

    def _read(self, what: str, symbol: str = "") -> None:
        self.calls.append((what, symbol))
        if self.read_error is not None:
            raise self.read_error

    def _rules(self, symbol: str) -> MarketRules:
        rules = self.rules.get(symbol)
        if rules is None:
            raise UnknownSymbol(f"Invalid symbol {symbol}.")
        return rules

    def _price(self, symbol: str) -> Decimal:
        self._rules(symbol)
        price = self.mark_prices.get(symbol)
        if price is None:
            raise ExchangeUnavailable(f"no mark price for {symbol}")
        return price

    async def market_rules(self, symbol: str) -> MarketRules:
        self._read("market_rules", symbol)
        return self._rules(symbol)

    async def fetch_mark_price(self, symbol: str) -> Decimal:
        self._read("fetch_mark_price", symbol)
        return self._price(symbol)

    def _unrealized(self) -> Decimal:
        total = Decimal(0)
        for symbol, position in self.positions.items():
            price = self.mark_prices.get(symbol)
            if price is not None:
                direction = 1 if position.side is PositionSide.LONG else -1
                total += (price - position.entry_price) * position.quantity * direction
        return total

    async def fetch_balance(self) -> Balance:
        self._read("fetch_balance")
        unrealized = self._unrealized()
        return Balance(
            currency=self.currency,
            wallet_balance=self.wallet_balance,
            unrealized_pnl=unrealized,
            available=self.wallet_balance + unrealized,
        )

    def _with_mark(self, position: Position) -> Position:
        return Position(
            position.symbol,
            position.side,
            position.quantity,
            position.entry_price,
            position.leverage,
            self.mark_prices.get(position.symbol),
        )

    async def fetch_positions(self) -> list[Position]:
        self._read("fetch_positions")
        return [self._with_mark(p) for p in self.positions.values()]

    async def fetch_position(self, symbol: str) -> Position | None:
        self._read("fetch_position", symbol)
        position = self.positions.get(symbol)
        return None if position is None else self._with_mark(position)

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        self._read("set_leverage", symbol)
        rules = self._rules(symbol)
        if not 1 <= leverage <= rules.max_leverage:
            raise OrderRejected(f"leverage {leverage} is not valid for {symbol}")
        self.leverage[symbol] = leverage

    async def place_market_order(self, request: OrderRequest) -> OrderFill:
        self.calls.append(("place", request.client_order_id))
        self.requests.append(request)
        failure = self._place_failures.popleft() if self._place_failures else None
        if failure is not None and failure.executes_at_lookup is not None:
            self._late[request.client_order_id] = (request, failure.executes_at_lookup)
        if failure is not None and not failure.after_execution:
            raise failure.error
        fill = self._execute(request)
        if failure is not None:
            raise failure.error
        return fill

    async def find_order(self, symbol: str, client_order_id: str) -> OrderFill | None:
        self.calls.append(("find", client_order_id))
        self._maybe_execute_late(client_order_id)
        if self.find_error is not None:
            raise self.find_error
        return self._known(symbol, client_order_id)

    async def find_recent_order(self, symbol: str, client_order_id: str) -> OrderFill | None:
        self.calls.append(("recent", client_order_id))
        if self.recent_error is not None:
            raise self.recent_error
        return self._known(symbol, client_order_id)

    def _known(self, symbol: str, client_order_id: str) -> OrderFill | None:
        fill = self.orders.get(client_order_id)
        return fill if fill is not None and fill.symbol == symbol else None

    def _maybe_execute_late(self, client_order_id: str) -> None:
        late = self._late.get(client_order_id)
        if late is None:
            return
        request, lookups_left = late
        if lookups_left > 1:
            self._late[client_order_id] = (request, lookups_left - 1)
            return
        del self._late[client_order_id]
        self._execute(request)

    async def check_account(self) -> AccountCheck:
        return AccountCheck(ok=True, detail="fake account", futures_enabled=True, can_trade=True)

    async def place_protective_orders(
        self,
        symbol: str,
        position_side: PositionSide,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        client_order_id_prefix: str,
    ) -> list[str]:
        """Recorded, never triggered: (client order id, trigger price) per symbol."""
        self.calls.append(("place_protective", symbol))
        self._rules(symbol)
        position = self.positions.get(symbol)
        if position is None or position.side is not position_side:
            raise OrderRejected(f"no open {position_side.value} {symbol} position to protect")
        placed = []
        for kind, price in (("sl", stop_loss), ("tp", take_profit)):
            if price is not None:
                client_id = client_order_id_prefix + kind
                self.protective.setdefault(symbol, []).append((client_id, price))
                placed.append(client_id)
        return placed

    async def cancel_protective_orders(self, symbol: str) -> None:
        self.calls.append(("cancel_protective", symbol))
        self.protective.pop(symbol, None)

    async def fetch_fills(self, symbols: Collection[str], since: datetime) -> list[AccountFill]:
        self._read("fetch_fills")
        return [f for f in self.fills if f.executed_at >= since]

    # the matching engine

    def _execute(self, request: OrderRequest) -> OrderFill:
        rules = self._rules(request.symbol)
        price = self._price(request.symbol)
        quantity = request.quantity
        if quantity <= 0 or quantity % rules.step_size != 0:
            raise InvalidPrecision("Precision is over the maximum defined for this asset.")
        if quantity < rules.min_qty or quantity > rules.max_qty:
            raise OrderRejected(f"quantity {quantity} outside [{rules.min_qty}, {rules.max_qty}]")
        position = self.positions.get(request.symbol)
        if request.reduce_only:
            if position is None or position.side.closing_side is not request.side:
                raise ReduceOnlyRejected("ReduceOnly Order is rejected.")
            quantity = min(quantity, position.quantity)
        elif quantity * price < rules.min_notional:
            raise BelowMinNotional(
                f"Order's notional must be no smaller than {rules.min_notional} "
                "(unless you choose reduce only)."
            )
        realized = self._apply(request.symbol, request.side, quantity, price)
        self._order_seq += 1
        fill = OrderFill(
            exchange_order_id=str(1000 + self._order_seq),
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            quantity=quantity,
            average_price=price,
            fee=quantity * price * self.fee_rate,
            reduce_only=request.reduce_only,
        )
        self.wallet_balance -= fill.fee
        self.fills.append(
            AccountFill(
                fill_id=fill.exchange_order_id,
                symbol=fill.symbol,
                side=fill.side,
                quantity=quantity,
                price=price,
                fee=fill.fee,
                realized_pnl=realized,
                executed_at=self.clock.now(),
            )
        )
        self.placed.append(request)
        self.orders[request.client_order_id] = fill
        return fill

    def _apply(self, symbol: str, side: OrderSide, quantity: Decimal, price: Decimal) -> Decimal:
        """Updates the position and wallet; returns the PnL realized."""
        realized = Decimal(0)
        position = self.positions.get(symbol)
        signed = quantity if side is OrderSide.BUY else -quantity
        if position is None:
            held, entry = Decimal(0), price
        else:
            held = position.quantity if position.side is PositionSide.LONG else -position.quantity
            entry = position.entry_price
        after = held + signed
        if held != 0 and (held > 0) != (signed > 0):
            closed = min(abs(signed), abs(held))
            direction = 1 if held > 0 else -1
            realized = (price - entry) * closed * direction
            self.wallet_balance += realized
            if after != 0 and (after > 0) != (held > 0):
                entry = price  # flipped through zero: the rest opens at this price
        elif held != 0:
            entry = (entry * abs(held) + price * quantity) / abs(after)
        if after == 0:
            self.positions.pop(symbol, None)
            return realized
        self.positions[symbol] = Position(
            symbol=symbol,
            side=PositionSide.LONG if after > 0 else PositionSide.SHORT,
            quantity=abs(after),
            entry_price=entry,
            leverage=self.leverage.get(symbol, 20),
        )
        return realized


class FakeGateways(ExchangeGateways):
    """Account id -> FakeExchange; an account without one cannot be reached."""

    def __init__(
        self,
        exchanges: Mapping[str, FakeExchange] | None = None,
        supported: Iterable[str] = ("paper",),
    ) -> None:
        self.exchanges: dict[str, FakeExchange] = dict(exchanges or {})
        self.supported = set(supported)

    def add(self, account_id: str, exchange: FakeExchange) -> FakeExchange:
        self.exchanges[account_id] = exchange
        return exchange

    def supports(self, exchange: str) -> bool:
        return exchange in self.supported

    async def for_account(self, account: ExchangeAccount) -> ExchangeGateway:
        exchange = self.exchanges.get(account.id)
        if exchange is None:
            raise ExchangeUnavailable(f"no exchange connected for account {account.id}")
        return exchange
