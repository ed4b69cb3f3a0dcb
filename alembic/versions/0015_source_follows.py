"""The sources each follower chose to follow, with their allocation.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mimic.adapters.sqlalchemy.tables import ExactDecimal

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "source_follows",
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(32), nullable=False),
        sa.Column("risk_perc", ExactDecimal(), nullable=True),
        sa.Column("leverage", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(16), nullable=False, server_default="both"),
        sa.PrimaryKeyConstraint("user_id", "source_id", name=op.f("pk_source_follows")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_source_follows_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["signal_sources.id"],
            name=op.f("fk_source_follows_source_id_signal_sources"),
        ),
    )
    op.create_index("ix_source_follows_source", "source_follows", ["source_id"])


def downgrade() -> None:
    op.drop_index("ix_source_follows_source", table_name="source_follows")
    op.drop_table("source_follows")
