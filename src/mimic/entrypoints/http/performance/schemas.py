"""Wire shapes of trades, balance history, the leaderboard, guardrails, preview, sync."""

from decimal import Decimal

import msgspec

from mimic.entrypoints.http.portfolio.schemas import OrderOut


class TradeOut(msgspec.Struct):
    exchange_account_id: str
    symbol: str
    side: str
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    realized_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    roi_perc: Decimal
    opened_at: str
    closed_at: str
    # The source of the signal that opened the trade; None for a trade opened outside Mimic
    # (by hand, or before Mimic recorded which order a fill executed).
    source_id: str | None
    source_name: str | None


class BalanceSnapshotOut(msgspec.Struct):
    exchange_account_id: str
    hour: str
    currency: str
    wallet_balance: Decimal
    equity: Decimal
    taken_at: str


class StandingOut(msgspec.Struct):
    rank: int
    username: str
    roi_perc: Decimal
    pnl: Decimal
    win_rate_perc: Decimal
    max_drawdown_perc: Decimal
    trades: int


class LeaderboardOut(msgspec.Struct):
    period: str
    entries: list[StandingOut]


class GuardrailStatusOut(msgspec.Struct):
    exchange_account_id: str
    day: str
    start_equity: Decimal | None
    tripped: str | None
    reason: str | None
    tripped_at: str | None
    # Shaped like GET /api/orders; `signal_id` is "guardrail:<day>".
    close_orders: list[OrderOut]


class PreviewLegOut(msgspec.Struct):
    leg: str
    side: str
    quantity: Decimal
    reduce_only: bool
    leverage: int | None
    skip_reason: str | None


class AccountPreviewOut(msgspec.Struct):
    exchange_account_id: str
    exchange: str
    username: str
    status: str  # "would_send" | "skipped"
    reason: str | None
    mark_price: Decimal | None
    take_profit_price: Decimal | None
    stop_loss_price: Decimal | None
    orders: list[PreviewLegOut]


class SignalPreviewOut(msgspec.Struct):
    symbol: str
    action: str
    risk_perc: Decimal | None
    leverage: int | None
    tp_perc: Decimal | None
    sl_perc: Decimal | None
    accounts: list[AccountPreviewOut]


class SyncOut(msgspec.Struct):
    accounts: int
    snapshots: int
    fills: int
    trips: int
    closes: int
    errors: int
