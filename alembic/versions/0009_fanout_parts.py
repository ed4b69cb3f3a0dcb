"""A signal's fan-out in parts that several workers run at once (domain.fanout).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signals") as batch:
        # Signals stored before run in one part, as they always did.
        batch.add_column(
            sa.Column("fanout_parts", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(
            sa.Column("finished_parts", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("signals") as batch:
        batch.drop_column("finished_parts")
        batch.drop_column("fanout_parts")
