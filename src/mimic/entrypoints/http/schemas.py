"""Wire shapes of the HTTP API (API.md): snake_case, decimals as strings."""

from decimal import Decimal
from typing import Annotated

import msgspec

from mimic.domain.signal import MAX_LEVERAGE
from mimic.entrypoints.http.contract import NOT_BLANK


class Health(msgspec.Struct):
    status: str


class WebhookAccepted(msgspec.Struct):
    signal_id: str
    duplicate: bool


class RegisterRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    email: str
    password: str
    referral_code: str | None = None


class LoginRequest(msgspec.Struct):
    username: str
    password: str


class TokenResponse(msgspec.Struct):
    access_token: str
    token_type: str = "bearer"  # noqa: S105


class TrailingSettingsOut(msgspec.Struct):
    enabled: bool
    activation_perc: Decimal | None
    callback_perc: Decimal | None


class DcaSettingsOut(msgspec.Struct):
    enabled: bool
    trigger_drawdown_perc: Decimal | None
    size_multiplier: Decimal | None
    max_adds: int | None
    spacing_perc: Decimal | None
    spacing_seconds: int | None


class FollowerSettingsOut(msgspec.Struct):
    risk_perc: Decimal | None
    leverage: int | None
    paused: bool
    tp_perc: Decimal | None
    sl_perc: Decimal | None
    trailing: TrailingSettingsOut
    dca: DcaSettingsOut
    # Daily guardrails and the leaderboard (docs/follower-guide.md, "Daily risk guardrails")
    drawdown_stop_perc: Decimal | None = None
    close_all_on_drawdown: bool = False
    profit_lock_perc: Decimal | None = None
    leaderboard_opt_out: bool = False


class CapsOut(msgspec.Struct):
    max_risk_perc: Decimal
    max_leverage: int


class ProfileOut(msgspec.Struct):
    id: str
    username: str
    email: str
    role: str
    active: bool
    settings: FollowerSettingsOut
    caps: CapsOut
    referral_code: str | None = None


class TrailingPatch(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    activation_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    callback_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET


class DcaPatch(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    trigger_drawdown_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    size_multiplier: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    max_adds: int | msgspec.UnsetType | None = msgspec.UNSET
    spacing_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    spacing_seconds: int | msgspec.UnsetType | None = msgspec.UNSET


class SettingsPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Absent fields stay as they are; null risk_perc/leverage means "use the defaults"."""

    risk_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    leverage: int | msgspec.UnsetType | None = msgspec.UNSET
    paused: bool | msgspec.UnsetType = msgspec.UNSET
    # Position protection; null = no default (TP/SL) or not set.
    tp_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    sl_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    trailing: TrailingPatch | msgspec.UnsetType = msgspec.UNSET
    dca: DcaPatch | msgspec.UnsetType = msgspec.UNSET
    drawdown_stop_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    close_all_on_drawdown: bool | msgspec.UnsetType = msgspec.UNSET
    profit_lock_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    leaderboard_opt_out: bool | msgspec.UnsetType = msgspec.UNSET

    def protection_changes(self) -> dict[str, object]:
        """The protection fields given, by dotted name ("trailing.enabled")."""
        changes: dict[str, object] = {
            name: getattr(self, name)
            for name in ("tp_perc", "sl_perc")
            if getattr(self, name) is not msgspec.UNSET
        }
        for group in ("trailing", "dca"):
            nested = getattr(self, group)
            if nested is msgspec.UNSET:
                continue
            for name in nested.__struct_fields__:
                value = getattr(nested, name)
                if value is not msgspec.UNSET:
                    changes[f"{group}.{name}"] = value
        return changes


class ConnectExchangeRequest(msgspec.Struct, forbid_unknown_fields=True):
    exchange: str
    api_key: str | None = None
    api_secret: str | None = None
    password: str | None = None
    label: str | None = None


class ExchangeOut(msgspec.Struct):
    id: str
    user_id: str
    exchange: str
    label: str
    status: str
    enabled: bool
    api_key_masked: str | None
    status_reason: str | None
    created_at: str
    validation_status: str = "unchecked"
    validation_detail: str | None = None
    validated_at: str | None = None


class EnablePatch(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool


class RejectRequest(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(pattern=NOT_BLANK)]


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


Leverage = Annotated[int, msgspec.Meta(ge=1, le=MAX_LEVERAGE)]


class PlatformSettingsBody(msgspec.Struct, forbid_unknown_fields=True):
    default_risk_perc: Decimal
    default_leverage: Leverage
    max_risk_perc: Decimal
    max_leverage: Leverage


class PaperPriceRequest(msgspec.Struct):
    price: Decimal


class PaperPriceOut(msgspec.Struct):
    symbol: str
    price: Decimal


class MonitorRunOut(msgspec.Struct):
    """What one round of the position monitor did (ids of the orders it recorded)."""

    positions: int
    trailing_closes: list[str]
    dca_adds: list[str]
    protection_fills: list[str]


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
