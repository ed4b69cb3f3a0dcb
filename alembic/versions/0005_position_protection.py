"""Position protection: follower TP/SL, trailing and DCA settings; protection on order
intents; monitor orders without a signal; the paper exchange's protective orders.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mimic.adapters.sqlalchemy.tables import ExactDecimal, UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_USER_COLUMNS = (
    ("tp_perc", ExactDecimal()),
    ("sl_perc", ExactDecimal()),
    ("trailing_activation_perc", ExactDecimal()),
    ("trailing_callback_perc", ExactDecimal()),
    ("dca_trigger_drawdown_perc", ExactDecimal()),
    ("dca_size_multiplier", ExactDecimal()),
    ("dca_max_adds", sa.Integer()),
    ("dca_spacing_perc", ExactDecimal()),
    ("dca_spacing_seconds", sa.Integer()),
)
_INTENT_COLUMNS = (
    ("tp_perc", ExactDecimal()),
    ("sl_perc", ExactDecimal()),
    ("stop_loss_price", ExactDecimal()),
    ("take_profit_price", ExactDecimal()),
    ("protection_error", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for name, type_ in _USER_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
        for name in ("trailing_enabled", "dca_enabled"):
            batch.add_column(
                sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())
            )
    with op.batch_alter_table("order_intents") as batch:
        batch.alter_column("signal_id", existing_type=sa.String(32), nullable=True)
        batch.add_column(sa.Column("parent_id", sa.String(32), nullable=True))
        for name, type_ in _INTENT_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
        batch.create_index(op.f("ix_order_intents_parent_id"), ["parent_id"])
        batch.create_index(
            op.f("ix_order_intents_account_symbol_created"), ["account_id", "symbol", "created_at"]
        )
    op.create_table(
        "paper_protective_orders",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("client_order_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(2), nullable=False),
        sa.Column("position_side", sa.String(5), nullable=False),
        sa.Column("trigger_price", ExactDecimal(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_protective_orders")),
    )
    op.create_index(
        op.f("ix_paper_protective_orders_symbol_status"),
        "paper_protective_orders",
        ["symbol", "status"],
    )
    op.create_index(
        op.f("ix_paper_protective_orders_account_symbol"),
        "paper_protective_orders",
        ["account_id", "symbol"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_paper_protective_orders_account_symbol"), table_name="paper_protective_orders"
    )
    op.drop_index(
        op.f("ix_paper_protective_orders_symbol_status"), table_name="paper_protective_orders"
    )
    op.drop_table("paper_protective_orders")
    # Orders the monitor sent have no signal: they cannot stay in the older schema.
    op.execute("DELETE FROM order_intents WHERE signal_id IS NULL")
    with op.batch_alter_table("order_intents") as batch:
        batch.drop_index(op.f("ix_order_intents_account_symbol_created"))
        batch.drop_index(op.f("ix_order_intents_parent_id"))
        for name, _ in reversed(_INTENT_COLUMNS):
            batch.drop_column(name)
        batch.drop_column("parent_id")
        batch.alter_column("signal_id", existing_type=sa.String(32), nullable=False)
    with op.batch_alter_table("users") as batch:
        for name in ("dca_enabled", "trailing_enabled"):
            batch.drop_column(name)
        for name, _ in reversed(_USER_COLUMNS):
            batch.drop_column(name)
