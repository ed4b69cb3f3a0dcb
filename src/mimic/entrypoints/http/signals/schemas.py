"""Wire shapes of signals and their reports."""

from decimal import Decimal

import msgspec

from mimic.entrypoints.http.portfolio.schemas import OrderOut


class SignalOut(msgspec.Struct):
    id: str
    source_id: str
    source_name: str | None  # None once the source is gone
    symbol: str
    action: str
    risk_perc: Decimal | None
    leverage: int | None
    tp_perc: Decimal | None
    sl_perc: Decimal | None
    external_id: str | None  # a master's trade id, for a signal from their exchange account
    # Proportional sizing of a signal from a master's own exchange account, else null.
    equity_fraction: Decimal | None
    close_fraction: Decimal | None
    status: str
    received_at: str
    # Copy fidelity: the mark price when the signal was received (read by the fan-out).
    reference_price: Decimal | None = None
    reference_at: str | None = None


class CopyOut(msgspec.Struct):
    """One filled order against the signal's reference (docs/copy-fidelity.md)."""

    order_id: str
    leg: str
    side: str
    reference_price: Decimal | None
    acknowledged_at: str | None
    fill_price: Decimal | None
    latency_ms: int | None
    slippage_bps: Decimal | None


class AccountOutcomeOut(msgspec.Struct):
    exchange_account_id: str
    user_id: str
    status: str
    reason: str | None
    orders: list[OrderOut]
    copies: list[CopyOut]


class SignalReportOut(msgspec.Struct):
    signal: SignalOut
    counts: dict[str, int]
    accounts: list[AccountOutcomeOut]
