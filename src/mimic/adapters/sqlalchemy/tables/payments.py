"""Payments: plans, Plisio invoices, subscriptions, referral commissions and payouts."""

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from mimic.adapters.sqlalchemy.tables.types import ID, ExactDecimal, UtcDateTime, metadata

__all__ = ["invoices", "payouts", "plans", "referral_commissions", "subscriptions"]

plans = Table(
    "plans",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(50), nullable=False),
    # Lower-cased name: plans are looked up by name case-insensitively.
    Column("name_key", String(50), nullable=False, unique=True),
    Column("price_usd", ExactDecimal, nullable=False),
    Column("duration_days", Integer, nullable=False),
    Column("max_exchange_connections", Integer, nullable=False),
    Column("features", Text, nullable=False),  # a JSON list of strings
    Column("active", Boolean, nullable=False, default=True),
    Column("sort_order", Integer, nullable=False, default=0),
)

# `id` is also the order_number sent to Plisio, hence unique there too.
invoices = Table(
    "invoices",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("plan_id", ID, ForeignKey("plans.id"), nullable=False),
    Column("plan_name", String(50), nullable=False),
    Column("amount_usd", ExactDecimal, nullable=False),
    Column("duration_days", Integer, nullable=False),
    Column("currency", String(16)),
    Column("status", String(16), nullable=False),
    Column("provider_txn_id", String(64), unique=True),
    Column("invoice_url", String(500)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime),
    Column("completed_at", UtcDateTime),
    Index("ix_invoices_user_created", "user_id", "created_at"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("plan_id", ID, ForeignKey("plans.id")),
    Column("plan_name", String(50), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("expiring_notice_for", UtcDateTime),
    Column("expired_notice_for", UtcDateTime),
)

payouts = Table(
    "payouts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("referrer_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("amount_usd", ExactDecimal, nullable=False),
    Column("paid_at", UtcDateTime, nullable=False),
    Column("paid_by", ID, nullable=False),
)

referral_commissions = Table(
    "referral_commissions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("referrer_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("referred_user_id", ID, ForeignKey("users.id"), nullable=False),
    # One commission per paid invoice, however often its callback arrives.
    Column("invoice_id", ID, ForeignKey("invoices.id"), nullable=False, unique=True),
    Column("amount_usd", ExactDecimal, nullable=False),
    Column("perc", ExactDecimal, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("payout_id", ID, ForeignKey("payouts.id")),
)
