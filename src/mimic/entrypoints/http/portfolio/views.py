"""Orders, positions, balances and position protection as the routes show them."""

from collections.abc import Mapping
from decimal import Decimal

from mimic.application.portfolio import AccountBalance, AccountPositions
from mimic.application.protection_status import PositionProtectionStatus
from mimic.domain.decimals import plain_decimal
from mimic.domain.orders import OrderIntent
from mimic.entrypoints.http.contract import iso
from mimic.entrypoints.http.portfolio.schemas import (
    BalanceOut,
    OrderOut,
    PositionOut,
    PositionProtectionOut,
)


def order_out(
    intent: OrderIntent,
    source_id: str | None = None,
    source_names: Mapping[str, str] | None = None,
) -> OrderOut:
    return OrderOut(
        id=intent.id,
        signal_id=intent.signal_id,
        source_id=source_id,
        source_name=None
        if source_id is None or source_names is None
        else source_names.get(source_id),
        exchange_account_id=intent.account_id,
        symbol=intent.symbol,
        side=intent.side.value,
        leg=intent.leg.value,
        quantity=intent.quantity,
        reduce_only=intent.reduce_only,
        leverage=intent.leverage,
        # A claimed order is still in flight: to a reader it is pending.
        status="pending" if intent.status.value == "submitting" else intent.status.value,
        client_order_id=intent.client_order_id,
        reason=intent.reason,
        exchange_order_id=intent.exchange_order_id,
        filled_quantity=intent.filled_quantity,
        average_price=intent.average_price,
        fee=intent.fee,
        attempts=intent.attempts,
        created_at=intent.created_at.isoformat(),
        updated_at=iso(intent.updated_at),
        stop_loss=intent.stop_loss_price,
        take_profit=intent.take_profit_price,
        protection_error=intent.protection_error,
        parent_id=intent.parent_id,
    )


def positions_out(holdings: list[AccountPositions]) -> list[PositionOut]:
    return [
        PositionOut(
            exchange_account_id=held.account.id,
            exchange=held.account.exchange,
            symbol=p.symbol,
            side=p.side.value,
            quantity=p.quantity,
            entry_price=p.entry_price,
            leverage=p.leverage,
            mark_price=p.mark_price,
            unrealized_pnl=p.unrealized_pnl,
        )
        for held in holdings
        for p in held.positions
    ]


def balances_out(items: list[AccountBalance]) -> list[BalanceOut]:
    out = []
    for item in items:
        b = item.balance
        out.append(
            BalanceOut(
                exchange_account_id=item.account.id,
                exchange=item.account.exchange,
                currency=b.currency if b else None,
                wallet_balance=b.wallet_balance if b else None,
                unrealized_pnl=b.unrealized_pnl if b else None,
                equity=b.equity if b else None,
                available=b.available if b else None,
                error=item.error,
            )
        )
    return out


def position_protection_out(
    items: list[PositionProtectionStatus],
) -> list[PositionProtectionOut]:
    return [
        PositionProtectionOut(
            exchange_account_id=item.account.id,
            exchange=item.account.exchange,
            symbol=item.position.symbol,
            side=item.position.side.value,
            quantity=item.position.quantity,
            entry_price=item.position.entry_price,
            mark_price=item.position.mark_price,
            entry_order_id=item.entry_order_id,
            stop_loss=item.stop_loss,
            take_profit=item.take_profit,
            protection_error=item.protection_error,
            trailing_enabled=item.trailing_enabled,
            trailing_activation_price=_plain(item.trailing_activation_price),
            trailing_stop=_plain(item.trailing_stop),
            trailing_best_price=item.trailing_best_price,
            dca_enabled=item.dca_enabled,
            dca_adds=item.dca_adds,
        )
        for item in items
    ]


def _plain(value: Decimal | None) -> Decimal | None:
    """Computed prices without padding zeros (66330.00 -> 66330)."""
    return None if value is None else plain_decimal(value)
