"""Wire shapes of plans, invoices, subscriptions, referrals and payouts."""

from decimal import Decimal
from typing import Annotated

import msgspec

from mimic.domain.payments import (
    MAX_PLAN_DAYS,
)
from mimic.entrypoints.http.contract import NOT_BLANK


class PlanOut(msgspec.Struct):
    id: str
    name: str
    price_usd: Decimal
    duration_days: int
    max_exchange_connections: int
    features: list[str]
    active: bool
    sort_order: int


class PlanBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(pattern=NOT_BLANK, max_length=50)]
    price_usd: Decimal
    duration_days: Annotated[int, msgspec.Meta(ge=1, le=MAX_PLAN_DAYS)]
    max_exchange_connections: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    features: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=200)]],
        msgspec.Meta(max_length=20),
    ] = msgspec.field(default_factory=list)
    active: bool = True
    sort_order: int = 0


class InvoiceRequest(msgspec.Struct, forbid_unknown_fields=True):
    plan: str
    currency: str | None = None


class InvoiceOut(msgspec.Struct):
    id: str
    plan_id: str
    plan: str
    amount_usd: Decimal
    source_currency: str
    currency: str | None
    duration_days: int
    status: str
    invoice_url: str | None
    provider_txn_id: str | None
    created_at: str
    updated_at: str | None
    completed_at: str | None


class CallbackAck(msgspec.Struct):
    status: str
    invoice_id: str
    invoice_status: str
    activated: bool


class SubscriptionOut(msgspec.Struct):
    active: bool
    plan: str | None
    plan_id: str | None
    started_at: str | None
    expires_at: str | None


class ReferredUserOut(msgspec.Struct):
    id: str
    username: str
    joined_at: str


class CommissionOut(msgspec.Struct):
    id: str
    referred_user_id: str
    invoice_id: str
    amount_usd: Decimal
    perc: Decimal
    created_at: str
    paid: bool
    payout_id: str | None


class ReferralsOut(msgspec.Struct):
    referrer_id: str
    username: str
    referral_code: str | None
    referred: list[ReferredUserOut]
    commissions: list[CommissionOut]
    earned_usd: Decimal
    unpaid_usd: Decimal


class PayoutOut(msgspec.Struct):
    id: str
    referrer_id: str
    amount_usd: Decimal
    commission_ids: list[str]
    paid_at: str
    paid_by: str


class PaymentSettingsBody(msgspec.Struct, forbid_unknown_fields=True):
    referral_commission_perc: Decimal
    require_subscription: bool
