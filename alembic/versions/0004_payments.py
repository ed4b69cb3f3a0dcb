"""Payments: plans, Plisio invoices, subscriptions, referral commissions and payouts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mimic.adapters.sqlalchemy.tables import ExactDecimal, UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("name_key", sa.String(50), nullable=False),
        sa.Column("price_usd", ExactDecimal(), nullable=False),
        sa.Column("duration_days", sa.Integer(), nullable=False),
        sa.Column("max_exchange_connections", sa.Integer(), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("name_key", name=op.f("uq_plans_name_key")),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("plan_id", sa.String(32), nullable=False),
        sa.Column("plan_name", sa.String(50), nullable=False),
        sa.Column("amount_usd", ExactDecimal(), nullable=False),
        sa.Column("duration_days", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider_txn_id", sa.String(64), nullable=True),
        sa.Column("invoice_url", sa.String(500), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=True),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_invoices_plan_id_plans")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_invoices_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("provider_txn_id", name=op.f("uq_invoices_provider_txn_id")),
    )
    op.create_index("ix_invoices_user_created", "invoices", ["user_id", "created_at"])
    op.create_table(
        "payouts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("referrer_id", sa.String(32), nullable=False),
        sa.Column("amount_usd", ExactDecimal(), nullable=False),
        sa.Column("paid_at", UtcDateTime(), nullable=False),
        sa.Column("paid_by", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["referrer_id"], ["users.id"], name=op.f("fk_payouts_referrer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
    )
    op.create_index(op.f("ix_payouts_referrer_id"), "payouts", ["referrer_id"])
    op.create_table(
        "subscriptions",
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("plan_id", sa.String(32), nullable=True),
        sa.Column("plan_name", sa.String(50), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("expiring_notice_for", UtcDateTime(), nullable=True),
        sa.Column("expired_notice_for", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_subscriptions_plan_id_plans")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_subscriptions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_subscriptions")),
    )
    op.create_index(op.f("ix_subscriptions_expires_at"), "subscriptions", ["expires_at"])
    op.create_table(
        "referral_commissions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("referrer_id", sa.String(32), nullable=False),
        sa.Column("referred_user_id", sa.String(32), nullable=False),
        sa.Column("invoice_id", sa.String(32), nullable=False),
        sa.Column("amount_usd", ExactDecimal(), nullable=False),
        sa.Column("perc", ExactDecimal(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("payout_id", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_referral_commissions_invoice_id_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_referral_commissions_payout_id_payouts")
        ),
        sa.ForeignKeyConstraint(
            ["referred_user_id"],
            ["users.id"],
            name=op.f("fk_referral_commissions_referred_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["referrer_id"], ["users.id"], name=op.f("fk_referral_commissions_referrer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_commissions")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_referral_commissions_invoice_id")),
    )
    op.create_index(
        op.f("ix_referral_commissions_referrer_id"), "referral_commissions", ["referrer_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_referral_commissions_referrer_id"), table_name="referral_commissions")
    op.drop_table("referral_commissions")
    op.drop_index(op.f("ix_subscriptions_expires_at"), table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_index(op.f("ix_payouts_referrer_id"), table_name="payouts")
    op.drop_table("payouts")
    op.drop_index("ix_invoices_user_created", table_name="invoices")
    op.drop_table("invoices")
    op.drop_table("plans")
