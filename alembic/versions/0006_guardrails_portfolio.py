"""Daily guardrails, guardrail close-all orders, account fills and balance snapshots.

Follower settings for the guardrails and the leaderboard opt-out live on `users`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mimic.adapters.sqlalchemy.tables import ExactDecimal, UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_USER_COLUMNS = ("guard_drawdown_perc", "guard_close_all", "guard_profit_lock_perc")


def _id(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(32), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("guard_drawdown_perc", ExactDecimal(), nullable=True))
        batch.add_column(
            sa.Column("guard_close_all", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("guard_profit_lock_perc", ExactDecimal(), nullable=True))
        batch.add_column(
            sa.Column(
                "leaderboard_opt_out", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    op.create_index(
        op.f("ix_paper_orders_account_created"), "paper_orders", ["account_id", "created_at"]
    )
    op.create_table(
        "guardrail_days",
        _id("account_id"),
        sa.Column("day", sa.Date(), nullable=False),
        _id("user_id"),
        sa.Column("start_equity", ExactDecimal(), nullable=False),
        sa.Column("trip_kind", sa.String(16), nullable=True),
        sa.Column("trip_reason", sa.Text(), nullable=True),
        sa.Column("tripped_at", UtcDateTime(), nullable=True),
        sa.Column("close_all_pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "day", name=op.f("pk_guardrail_days")),
    )
    op.create_table(
        "guardrail_closes",
        _id("id"),
        _id("account_id"),
        _id("user_id"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardrail_closes")),
        sa.UniqueConstraint(
            "account_id", "day", "symbol", name="uq_guardrail_closes_account_day_symbol"
        ),
    )
    op.create_table(
        "account_fills",
        _id("account_id"),
        sa.Column("fill_id", sa.String(64), nullable=False),
        _id("user_id"),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=False),
        sa.Column("fee", ExactDecimal(), nullable=False),
        sa.Column("realized_pnl", ExactDecimal(), nullable=True),
        sa.Column("executed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "fill_id", name=op.f("pk_account_fills")),
    )
    op.create_index(
        op.f("ix_account_fills_user_executed"), "account_fills", ["user_id", "executed_at"]
    )
    op.create_table(
        "fill_read_marks",
        _id("account_id"),
        sa.Column("read_until", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_fill_read_marks")),
    )
    op.create_table(
        "balance_snapshots",
        _id("account_id"),
        sa.Column("hour", UtcDateTime(), nullable=False),
        _id("user_id"),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("wallet_balance", ExactDecimal(), nullable=False),
        sa.Column("equity", ExactDecimal(), nullable=False),
        sa.Column("taken_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "hour", name=op.f("pk_balance_snapshots")),
    )
    op.create_index(
        op.f("ix_balance_snapshots_user_hour"), "balance_snapshots", ["user_id", "hour"]
    )


def downgrade() -> None:
    for table in (
        "balance_snapshots",
        "fill_read_marks",
        "account_fills",
        "guardrail_closes",
        "guardrail_days",
    ):
        op.drop_table(table)
    op.drop_index(op.f("ix_paper_orders_account_created"), table_name="paper_orders")
    with op.batch_alter_table("users") as batch:
        for column in (*_USER_COLUMNS, "leaderboard_opt_out"):
            batch.drop_column(column)
