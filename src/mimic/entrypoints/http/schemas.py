"""Wire shapes of the HTTP API (API.md): snake_case, decimals as strings."""

from decimal import Decimal

import msgspec


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


class FollowerSettingsOut(msgspec.Struct):
    risk_perc: Decimal | None
    leverage: int | None
    paused: bool


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


class SettingsPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Absent fields stay as they are; null risk_perc/leverage means "use the defaults"."""

    risk_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    leverage: int | msgspec.UnsetType | None = msgspec.UNSET
    paused: bool | msgspec.UnsetType = msgspec.UNSET


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
    reason: str


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


class SignalOut(msgspec.Struct):
    id: str
    source_id: str
    symbol: str
    action: str
    risk_perc: Decimal | None
    leverage: int | None
    tp_perc: Decimal | None
    sl_perc: Decimal | None
    external_id: str | None
    status: str
    received_at: str


class AccountOutcomeOut(msgspec.Struct):
    exchange_account_id: str
    user_id: str
    status: str
    reason: str | None
    orders: list[OrderOut]


class SignalReportOut(msgspec.Struct):
    signal: SignalOut
    counts: dict[str, int]
    accounts: list[AccountOutcomeOut]


class PlatformSettingsBody(msgspec.Struct, forbid_unknown_fields=True):
    default_risk_perc: Decimal
    default_leverage: int
    max_risk_perc: Decimal
    max_leverage: int


class PaperPriceRequest(msgspec.Struct):
    price: Decimal


class PaperPriceOut(msgspec.Struct):
    symbol: str
    price: Decimal
