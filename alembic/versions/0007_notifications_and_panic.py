"""Notification outbox and preferences, Telegram links, the panic switch.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mimic.adapters.sqlalchemy.tables import ExactDecimal, UtcDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(32), nullable=False)


def upgrade() -> None:
    op.create_table(
        "notification_outbox",
        _id("id"),
        _id("user_id"),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("batch_key", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.String(32), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
    )
    op.create_index(
        "ix_notification_outbox_due", "notification_outbox", ["sent_at", "next_attempt_at"]
    )
    op.create_table(
        "notification_preferences",
        _id("user_id"),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("channels", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "event", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "telegram_links",
        _id("user_id"),
        sa.Column("chat_id", sa.String(32), nullable=False),
        sa.Column("linked_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_telegram_links")),
        sa.UniqueConstraint("chat_id", name=op.f("uq_telegram_links_chat_id")),
    )
    op.create_table(
        "telegram_link_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        _id("user_id"),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_telegram_link_codes")),
    )
    op.create_table(
        "panic_guard",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_panic_guard")),
    )
    op.create_table(
        "panic_runs",
        _id("id"),
        _id("actor_id"),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("accounts", sa.Text(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_panic_runs")),
    )
    op.create_table(
        "panic_closes",
        _id("id"),
        _id("run_id"),
        _id("account_id"),
        _id("user_id"),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("client_order_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("exchange_order_id", sa.String(64), nullable=True),
        sa.Column("filled_quantity", ExactDecimal(), nullable=True),
        sa.Column("average_price", ExactDecimal(), nullable=True),
        sa.Column("fee", ExactDecimal(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_panic_closes")),
        sa.UniqueConstraint(
            "run_id", "account_id", "symbol", name="uq_panic_closes_run_account_symbol"
        ),
    )
    op.create_index("ix_panic_closes_user_created", "panic_closes", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_panic_closes_user_created", table_name="panic_closes")
    op.drop_table("panic_closes")
    op.drop_table("panic_runs")
    op.drop_table("panic_guard")
    op.drop_table("telegram_link_codes")
    op.drop_table("telegram_links")
    op.drop_table("notification_preferences")
    op.drop_index("ix_notification_outbox_due", table_name="notification_outbox")
    op.drop_table("notification_outbox")
