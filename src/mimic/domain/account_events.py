"""What an exchange tells about one account as it happens: fills, order and position
changes, balances, and the moments a stream (re)connects.

A fill is what Mimic records; order, position and balance events refresh a follower's
dashboard. A stream that (re)connects may have missed events while it was away, so
`StreamConnected` asks its holder to reconcile by REST; recording is idempotent, so an
event seen twice (stream and reconciliation, or delivered twice) is recorded once.
"""

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from mimic.domain.orders import CLIENT_ORDER_ID_PREFIX, OrderLeg
from mimic.domain.performance import AccountFill
from mimic.domain.protection import PROTECTIVE_PREFIX


class FillCause(enum.StrEnum):
    """Why the exchange executed: an order someone placed, or the exchange's own close."""

    ORDER = "order"
    LIQUIDATION = "liquidation"  # includes auto-deleveraging: the exchange closed it


@dataclass(frozen=True, slots=True)
class FillEvent:
    """One execution. `order_quantity` / `order_average_price`: the order's cumulative fill
    so far; `order_done`: nothing is left of it. `position_after`: the symbol's signed
    position right after this fill, when the venue tells it (else it is read)."""

    fill: AccountFill
    order_id: str
    client_order_id: str | None
    order_quantity: Decimal
    order_average_price: Decimal
    order_done: bool = True
    cause: FillCause = FillCause.ORDER
    position_after: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """An order placed, cancelled, expired or triggered (fills come as `FillEvent`)."""

    order_id: str
    client_order_id: str | None
    symbol: str
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PositionEvent:
    symbol: str
    quantity: Decimal  # signed: short < 0
    entry_price: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class BalanceEvent:
    currency: str
    wallet_balance: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class StreamConnected:
    """The stream is (again) live: whatever happened before it may have been missed."""

    at: datetime


AccountEvent = FillEvent | OrderEvent | PositionEvent | BalanceEvent | StreamConnected


def fill_leg(client_order_id: str | None, cause: FillCause) -> OrderLeg | None:
    """The leg of an execution that changed a copied position, from its client order id;
    None for Mimic's own market orders, which whoever sent them records."""
    if cause is FillCause.LIQUIDATION:
        return OrderLeg.LIQUIDATION
    if client_order_id is None:
        return OrderLeg.EXTERNAL
    if client_order_id.startswith(PROTECTIVE_PREFIX):
        if client_order_id.endswith("sl"):
            return OrderLeg.STOP_LOSS
        if client_order_id.endswith("tp"):
            return OrderLeg.TAKE_PROFIT
    if client_order_id.startswith(CLIENT_ORDER_ID_PREFIX):
        return None
    return OrderLeg.EXTERNAL


def sent_by_mimic(event: FillEvent) -> bool:
    """A fill of a market order Mimic sent: its sender records the order, its notification
    and its page event, so the stream has only the fill itself left to store."""
    return fill_leg(event.client_order_id, event.cause) is None


def fill_events(fills: Iterable[AccountFill]) -> list[FillEvent]:
    """Fills read by REST (a reconciliation) as the events a stream would have sent: each
    order's fills in time order, the last one carrying the order done with its total
    quantity and average price. The position after each is unknown (read when needed)."""
    by_order: dict[str, list[AccountFill]] = {}
    for fill in sorted(fills, key=lambda f: (f.executed_at, f.fill_id)):
        by_order.setdefault(fill.order_id or fill.fill_id, []).append(fill)
    events: list[FillEvent] = []
    for order_id, order_fills in by_order.items():
        quantity = Decimal(0)
        cost = Decimal(0)
        for number, fill in enumerate(order_fills, start=1):
            quantity += fill.quantity
            cost += fill.quantity * fill.price
            events.append(
                FillEvent(
                    fill=fill,
                    order_id=order_id,
                    client_order_id=fill.client_order_id,
                    order_quantity=quantity,
                    order_average_price=cost / quantity,
                    order_done=number == len(order_fills),
                )
            )
    return sorted(events, key=lambda e: (e.fill.executed_at, e.fill.fill_id))
