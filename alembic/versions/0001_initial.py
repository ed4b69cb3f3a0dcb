"""Initial schema.

Users, signal sources, signals, exchange accounts, order intents, platform settings and
the paper exchange's books.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mimic.adapters.sqlalchemy.tables import ExactDecimal, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str) -> sa.Column[str]:
    """Ids are uuid4 hex strings (tables.ID)."""
    return sa.Column(name, sa.String(32), nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        _id("id"),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("risk_perc", ExactDecimal(), nullable=True),
        sa.Column("leverage", sa.Integer(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("max_risk_perc", ExactDecimal(), nullable=True),
        sa.Column("max_leverage", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "signal_sources",
        _id("id"),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("passphrase_hash", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal_sources")),
        sa.UniqueConstraint("passphrase_hash", name=op.f("uq_signal_sources_passphrase_hash")),
    )
    op.create_table(
        "signals",
        _id("id"),
        _id("source_id"),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("risk_perc", ExactDecimal(), nullable=True),
        sa.Column("leverage", sa.Integer(), nullable=True),
        sa.Column("tp_perc", ExactDecimal(), nullable=True),
        sa.Column("sl_perc", ExactDecimal(), nullable=True),
        sa.Column("external_id", sa.String(128), nullable=True),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["signal_sources.id"],
            name=op.f("fk_signals_source_id_signal_sources"),
        ),
        sa.UniqueConstraint("source_id", "dedupe_key", name=op.f("uq_signals_source_dedupe")),
    )
    op.create_index(op.f("ix_signals_status_received"), "signals", ["status", "received_at"])
    op.create_table(
        "exchange_accounts",
        _id("id"),
        _id("user_id"),
        sa.Column("exchange", sa.String(32), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("api_key_masked", sa.String(32), nullable=True),
        sa.Column("status_reason", sa.String(500), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_accounts")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_exchange_accounts_user_id_users")
        ),
    )
    op.create_index(op.f("ix_exchange_accounts_user_id"), "exchange_accounts", ["user_id"])
    op.create_index(op.f("ix_exchange_accounts_status"), "exchange_accounts", ["status"])
    # No foreign key to exchange_accounts: the history of a deleted connection stays.
    op.create_table(
        "order_intents",
        _id("id"),
        _id("signal_id"),
        _id("account_id"),
        _id("user_id"),
        sa.Column("leg", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("leverage", sa.Integer(), nullable=True),
        sa.Column("client_order_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("exchange_order_id", sa.String(64), nullable=True),
        sa.Column("filled_quantity", ExactDecimal(), nullable=True),
        sa.Column("average_price", ExactDecimal(), nullable=True),
        sa.Column("fee", ExactDecimal(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_intents")),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signals.id"], name=op.f("fk_order_intents_signal_id_signals")
        ),
        sa.UniqueConstraint(
            "signal_id", "account_id", "leg", name=op.f("uq_order_intents_signal_account_leg")
        ),
    )
    op.create_index(
        op.f("ix_order_intents_user_created"), "order_intents", ["user_id", "created_at"]
    )
    op.create_table(
        "platform_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_platform_settings")),
    )
    op.create_table(
        "paper_accounts",
        _id("account_id"),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("wallet_balance", ExactDecimal(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_paper_accounts")),
    )
    op.create_table(
        "paper_positions",
        _id("account_id"),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("entry_price", ExactDecimal(), nullable=False),
        sa.Column("leverage", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "symbol", name=op.f("pk_paper_positions")),
    )
    op.create_table(
        "paper_orders",
        _id("id"),
        _id("account_id"),
        sa.Column("client_order_id", sa.String(36), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=False),
        sa.Column("fee", ExactDecimal(), nullable=False),
        sa.Column("realized_pnl", ExactDecimal(), nullable=False),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_orders")),
    )
    op.create_index(
        op.f("ix_paper_orders_account_client"), "paper_orders", ["account_id", "client_order_id"]
    )
    op.create_table(
        "paper_prices",
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_paper_prices")),
    )


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes and constraints.
    for table in (
        "paper_prices",
        "paper_orders",
        "paper_positions",
        "paper_accounts",
        "platform_settings",
        "order_intents",
        "exchange_accounts",
        "signals",
        "signal_sources",
        "users",
    ):
        op.drop_table(table)
