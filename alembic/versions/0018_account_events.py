"""The paper venue's account events, read by the paper exchange's account streams.

Revision ID: 0018
Revises: 0017_copy_fidelity
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mimic.adapters.sqlalchemy.tables import PAPER_EVENT_SEQ, ExactDecimal, UtcDateTime

revision: str = "0018"
down_revision: str | None = "0017_copy_fidelity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_account_events",
        sa.Column("seq", PAPER_EVENT_SEQ, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("position_after", ExactDecimal(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_paper_account_events")),
    )
    op.create_index("ix_paper_account_events_created", "paper_account_events", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_paper_account_events_created", table_name="paper_account_events")
    op.drop_table("paper_account_events")
