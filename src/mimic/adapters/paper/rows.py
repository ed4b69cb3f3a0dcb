"""Rows of the paper_* tables to domain objects, and fills to the rows that record them."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row

from mimic.adapters.paper.protection import (
    ProtectiveOrder,
    ProtectiveStatus,
)
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
