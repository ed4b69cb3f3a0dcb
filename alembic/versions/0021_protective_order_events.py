"""Paper account events for protective orders placed and cancelled, not only for fills:
an event names either the order it executed or the protective order it is about, and
says which it is (`kind`).

Revision ID: 0021_protective_order_events
Revises: 0020_trade_sources
Create Date: 2026-12-04 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mimic.adapters.sqlalchemy.tables import ExactDecimal

revision: str = "0021_protective_order_events"
down_revision: str | None = "0020_trade_sources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("paper_account_events") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="fill"))
        batch.add_column(sa.Column("protective_order_id", sa.String(32), nullable=True))
        batch.alter_column("order_id", existing_type=sa.String(32), nullable=True)
        batch.alter_column("position_after", existing_type=ExactDecimal(), nullable=True)


def downgrade() -> None:
    # Events live an hour at most; the protective orders' cannot be told without `kind`.
    op.execute("DELETE FROM paper_account_events WHERE kind <> 'fill'")
    with op.batch_alter_table("paper_account_events") as batch:
        batch.alter_column("position_after", existing_type=ExactDecimal(), nullable=False)
        batch.alter_column("order_id", existing_type=sa.String(32), nullable=False)
        batch.drop_column("protective_order_id")
        batch.drop_column("kind")
