"""A signal source copies both sides of the market, or only longs, or only shorts.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signal_sources") as batch:
        batch.add_column(
            sa.Column("direction", sa.String(16), nullable=False, server_default="both")
        )


def downgrade() -> None:
    with op.batch_alter_table("signal_sources") as batch:
        batch.drop_column("direction")
