"""Rows of the paper_* tables to domain objects, and fills to the rows that record them."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Row, String, cast

from mimic.adapters.paper.protection import (
    ProtectiveOrder,
    ProtectiveStatus,
)
from mimic.adapters.sqlalchemy.tables import paper_account_events, paper_orders
from mimic.domain.account_events import FillEvent
from mimic.domain.decimals import plain_decimal
from mimic.domain.orders import OrderFill, OrderSide
from mimic.domain.performance import AccountFill
from mimic.domain.positions import PositionSide


def order_fill(row: Row[Any]) -> OrderFill:
    return OrderFill(
        exchange_order_id=row.id,
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side=OrderSide(row.side),
        quantity=row.quantity,
        average_price=row.price,
        fee=row.fee,
        reduce_only=row.reduce_only,
    )


def protective_order(row: Row[Any]) -> ProtectiveOrder:
    return ProtectiveOrder(
        order_id=row.id,
        account_id=row.account_id,
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        position_side=PositionSide(row.position_side),
        kind=row.kind,
        trigger_price=row.trigger_price,
        status=ProtectiveStatus(row.status),
    )


def account_fill(row: Row[Any]) -> AccountFill:
    """One row of paper_orders as the account's fill."""
    return AccountFill(
        fill_id=row.id,
        symbol=row.symbol,
        side=OrderSide(row.side),
        quantity=row.quantity,
        price=row.price,
        fee=row.fee,
        realized_pnl=row.realized_pnl,
        executed_at=row.created_at,
        order_id=row.id,  # one execution per paper order
        client_order_id=row.client_order_id,
    )


def undecoded(column: ColumnElement[Decimal]) -> ColumnElement[Any]:
    """An amount column as text, for `Amounts` to decode: Postgres's text of a NUMERIC is
    cheaper for the driver to read than its binary form (SQLite keeps amounts as text)."""
    return cast(column, String()).label(column.key)


class Amounts:
    """Decodes amounts as `ExactDecimal` does, each distinct one once: a fan-out's fills share
    their price and mostly their quantity and fee, and the column type decodes every value."""

    def __init__(self) -> None:
        self._decoded: dict[Any, Decimal] = {}

    def __call__(self, raw: Any) -> Decimal:
        decoded = self._decoded.get(raw)
        if decoded is None:
            decoded = plain_decimal(Decimal(raw))
            # Not a zero: -0 equals 0 (same key) yet keeps its sign.
            if decoded:
                self._decoded[raw] = decoded
        return decoded


_SIDES = {side.value: side for side in OrderSide}

# What `fill_event` reads of an account event joined to its paper_orders row, in its order:
# only what the event tells, the amounts undecoded.
FILL_EVENT_COLUMNS = (
    paper_account_events.c.seq,
    undecoded(paper_account_events.c.position_after),
    paper_orders.c.id,
    paper_orders.c.client_order_id,
    paper_orders.c.symbol,
    paper_orders.c.side,
    undecoded(paper_orders.c.quantity),
    undecoded(paper_orders.c.price),
    undecoded(paper_orders.c.fee),
    undecoded(paper_orders.c.realized_pnl),
    paper_orders.c.created_at,
)


def fill_event(values: Sequence[Any], amount: Amounts) -> tuple[int, FillEvent]:
    """The seq and event of a row of `FILL_EVENT_COLUMNS`. A paper order executes at once and
    whole: its one fill is the order done."""
    seq, position_after, order_id, client_order_id, symbol, side, *amounts, at = values
    quantity, price, fee, realized_pnl = map(amount, amounts)
    fill = AccountFill(
        fill_id=order_id,
        symbol=symbol,
        side=_SIDES[side],
        quantity=quantity,
        price=price,
        fee=fee,
        realized_pnl=realized_pnl,
        executed_at=at,
        order_id=order_id,  # one execution per paper order
        client_order_id=client_order_id,
    )
    return seq, FillEvent(
        fill=fill,
        order_id=order_id,
        client_order_id=client_order_id,
        order_quantity=quantity,
        order_average_price=price,
        position_after=None if position_after is None else amount(position_after),
    )


def order_row(account_id: str, fill: OrderFill, realized: Decimal, now: datetime) -> dict[str, Any]:
    return {
        "id": fill.exchange_order_id,
        "account_id": account_id,
        "client_order_id": fill.client_order_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "quantity": fill.quantity,
        "price": fill.average_price,
        "fee": fill.fee,
        "realized_pnl": realized,
        "reduce_only": fill.reduce_only,
        "created_at": now,
    }


def event_row(
    account_id: str, fill: OrderFill, position_after: Decimal, now: datetime
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "order_id": fill.exchange_order_id,
        "position_after": position_after,
        "created_at": now,
    }


def protective_event_row(
    account_id: str, protective_order_id: str, kind: str, now: datetime
) -> dict[str, Any]:
    """An account event of a protective order: "placed" or "cancelled"."""
    return {
        "account_id": account_id,
        "kind": kind,
        "protective_order_id": protective_order_id,
        "created_at": now,
    }
