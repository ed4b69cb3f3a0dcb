"""Wire shapes of orders, positions, balances and position protection."""

from decimal import Decimal

import msgspec


class PositionOut(msgspec.Struct):
    exchange_account_id: str
    exchange: str
    symbol: str
    side: str
    quantity: Decimal
    entry_price: Decimal
    leverage: int
    mark_price: Decimal | None
    unrealized_pnl: Decimal | None


class BalanceOut(msgspec.Struct):
    exchange_account_id: str
    exchange: str
    currency: str | None
    wallet_balance: Decimal | None
    unrealized_pnl: Decimal | None
    equity: Decimal | None
    available: Decimal | None
    error: str | None = None


class OrderOut(msgspec.Struct):
    id: str
    signal_id: str | None
    source_id: str | None
    source_name: str | None
    exchange_account_id: str
    symbol: str
    side: str
    leg: str
    quantity: Decimal
    reduce_only: bool
    leverage: int | None
    status: str
    client_order_id: str
    reason: str | None
    exchange_order_id: str | None
    filled_quantity: Decimal | None
    average_price: Decimal | None
    fee: Decimal | None
    attempts: int
    created_at: str
    updated_at: str | None
    # Position protection: the entry's TP/SL as placed on the exchange, or why not; for
    # orders of the position monitor (trailing stop, DCA), the entry they belong to.
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    protection_error: str | None = None
    parent_id: str | None = None


class PositionProtectionOut(msgspec.Struct):
    """What protects one open position (GET /api/positions/protection)."""

    exchange_account_id: str
    exchange: str
    symbol: str
    side: str
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal | None
    entry_order_id: str
    stop_loss: Decimal | None
    take_profit: Decimal | None
    protection_error: str | None
    trailing_enabled: bool
    trailing_activation_price: Decimal | None
    trailing_stop: Decimal | None
    trailing_best_price: Decimal | None
    dca_enabled: bool
    dca_adds: int
