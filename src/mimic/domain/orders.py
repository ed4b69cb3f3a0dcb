"""Order intents: what Mimic decided to send to one follower account for one signal."""

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from mimic.domain.errors import InvalidField
from mimic.domain.symbols import normalize_symbol

CLIENT_ORDER_ID_PREFIX = "mimic-"


class OrderSide(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderLeg(enum.StrEnum):
    """Role of an order within a signal; part of its deterministic client order id."""

    CLOSE = "close"
    ENTRY = "entry"
    # Sent by the position monitor, not by a signal (see monitor_intent_id).
    TRAILING_STOP = "trailing_stop"
    DCA = "dca"
    # Recorded from the account's events (or when the monitor sees a position gone): a
    # native TP/SL order that fired on the exchange, the exchange's own close (liquidation,
    # auto-deleveraging), and anyone else's order on a copied position (a close by hand).
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    LIQUIDATION = "liquidation"
    EXTERNAL = "external"


class IntentStatus(enum.StrEnum):
    PENDING = "pending"
    SUBMITTING = "submitting"
    FILLED = "filled"
    REJECTED = "rejected"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({IntentStatus.FILLED, IntentStatus.REJECTED, IntentStatus.SKIPPED})


def client_order_id(signal_id: str, account_id: str, leg: OrderLeg) -> str:
    """Deterministic id: a re-run of the same (signal, account, leg) can find its order.

    Binance allows at most 36 characters from `[.A-Z:/a-z0-9_-]`; this yields 34.
    """
    digest = hashlib.sha256(f"{signal_id}:{account_id}:{leg.value}".encode()).hexdigest()
    return CLIENT_ORDER_ID_PREFIX + digest[:28]


def monitor_intent_id(parent_intent_id: str, leg: OrderLeg, number: int = 1) -> str:
    """Deterministic id of an order the position monitor sends for the position that the
    entry `parent_intent_id` opened: two workers, or one restarted, agree on it, so the
    order is stored (and sent) once."""
    return hashlib.sha256(f"{parent_intent_id}:{leg.value}:{number}".encode()).hexdigest()[:32]


def monitor_client_order_id(intent_id: str) -> str:
    return CLIENT_ORDER_ID_PREFIX + intent_id[:28]


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What an exchange gateway is asked to do."""

    symbol: str
    side: OrderSide
    quantity: Decimal
    client_order_id: str
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class OrderFill:
    """What an exchange reports about an executed order."""

    exchange_order_id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    average_price: Decimal
    fee: Decimal
    reduce_only: bool = False


@dataclass(slots=True)
class OrderIntent:
    id: str
    signal_id: str | None
    account_id: str
    user_id: str
    leg: OrderLeg
    symbol: str
    side: OrderSide
    quantity: Decimal
    reduce_only: bool
    leverage: int | None
    client_order_id: str
    created_at: datetime
    status: IntentStatus = IntentStatus.PENDING
    reason: str | None = None
    attempts: int = 0
    exchange_order_id: str | None = None
    filled_quantity: Decimal | None = None
    average_price: Decimal | None = None
    fee: Decimal | None = None
    updated_at: datetime | None = field(default=None)
    # Position protection: the entry an order of the position monitor belongs to; an
    # entry's TP/SL percentages, the prices placed on the exchange, or why that failed.
    parent_id: str | None = None
    tp_perc: Decimal | None = None
    sl_perc: Decimal | None = None
    stop_loss_price: Decimal | None = None
    take_profit_price: Decimal | None = None
    protection_error: str | None = None
    # When the exchange's answer to the filled order arrived (copy fidelity's latency).
    acknowledged_at: datetime | None = None

    def hold_for_sending(self, now: datetime) -> None:
        """First attempt, taken by whoever planned it (the lease is the repository's)."""
        self.status = IntentStatus.SUBMITTING
        self.attempts += 1
        self.updated_at = now

    def record_fill(self, fill: OrderFill, now: datetime) -> None:
        self.status = IntentStatus.FILLED
        self.reason = None
        self.exchange_order_id = fill.exchange_order_id
        self.filled_quantity = fill.quantity
        self.average_price = fill.average_price
        self.fee = fill.fee
        self.updated_at = now
        self.acknowledged_at = now

    def reject(self, reason: str, now: datetime) -> None:
        self.status = IntentStatus.REJECTED
        self.reason = reason
        self.updated_at = now

    def skip(self, reason: str, now: datetime) -> None:
        self.status = IntentStatus.SKIPPED
        self.reason = reason
        self.updated_at = now

    def await_outcome(self, reason: str, now: datetime) -> None:
        """Sent, outcome unknown: keep the lease, so nobody resends before it runs out.

        By then a late execution shows up in the lookup that precedes any resend.
        """
        self.status = IntentStatus.SUBMITTING
        self.reason = reason
        self.updated_at = now

    def retry_later(self, reason: str, now: datetime) -> None:
        """Outcome not settled (unknown, rate limited): the sweeper tries again."""
        self.status = IntentStatus.PENDING
        self.reason = reason
        self.updated_at = now


@dataclass(frozen=True, slots=True)
class OrderFilters:
    """What an order history shows: any of `statuses` (all when empty), one symbol or all,
    one signal source's orders or all."""

    statuses: frozenset[IntentStatus] = frozenset()
    symbol: str | None = None
    source_id: str | None = None

    @classmethod
    def parse(cls, status: str | None, symbol: str | None) -> "OrderFilters":
        """From what a reader picks: "pending" also covers orders in flight."""
        statuses: frozenset[IntentStatus] = frozenset()
        if status:
            try:
                chosen = IntentStatus(status)
            except ValueError:
                raise InvalidField(
                    "status", "must be one of pending, filled, rejected, skipped"
                ) from None
            statuses = frozenset({chosen})
            if chosen is IntentStatus.PENDING:
                statuses |= {IntentStatus.SUBMITTING}
        return cls(statuses=statuses, symbol=normalize_symbol(symbol) if symbol else None)

    def admits(self, intent: OrderIntent, source_id: str | None = None) -> bool:
        """`source_id`: the source of the intent's signal, which the intent does not carry
        (None for an order of no signal: a panic close, a monitor's order)."""
        return (
            (not self.statuses or intent.status in self.statuses)
            and (self.symbol is None or intent.symbol == self.symbol)
            and (self.source_id is None or source_id == self.source_id)
        )


NO_FILTERS = OrderFilters()
