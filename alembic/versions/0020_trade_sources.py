"""The exchange order each fill executed: links a trade to the signal, and so the source,
that opened it.

Revision ID: 0020_trade_sources
Revises: 0019_master_accounts
Create Date: 2026-12-04 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_trade_sources"
down_revision: str | None = "0019_master_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Fills stored before this revision keep no order: their trades show no source.
    with op.batch_alter_table("account_fills") as batch:
        batch.add_column(sa.Column("order_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("account_fills") as batch:
        batch.drop_column("order_id")
