"""A master's own exchange account as a signal source; proportional sizing of its signals.

Revision ID: 0019_master_accounts
Revises: 0018
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mimic.adapters.sqlalchemy.tables import ExactDecimal, UtcDateTime

revision: str = "0019_master_accounts"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "master_accounts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(32), nullable=False),
        sa.Column("exchange", sa.String(32), nullable=False),
        sa.Column("symbols", sa.String(1700), nullable=False),
        sa.Column("api_key_masked", sa.String(32), nullable=True),
        sa.Column("credentials_token", sa.Text(), nullable=True),
        sa.Column("permission_warning", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_master_accounts")),
        sa.UniqueConstraint("source_id", name=op.f("uq_master_accounts_source_id")),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["signal_sources.id"],
            name=op.f("fk_master_accounts_source_id_signal_sources"),
        ),
    )
    op.create_table(
        "master_cursors",
        sa.Column("source_id", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("since", UtcDateTime(), nullable=False),
        sa.Column("copied_at_since", sa.Text(), nullable=False),
        sa.Column("position", ExactDecimal(), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "symbol", name=op.f("pk_master_cursors")),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["signal_sources.id"],
            name=op.f("fk_master_cursors_source_id_signal_sources"),
        ),
    )
    with op.batch_alter_table("signals") as batch:
        batch.add_column(sa.Column("equity_fraction", ExactDecimal(), nullable=True))
        batch.add_column(sa.Column("close_fraction", ExactDecimal(), nullable=True))
    with op.batch_alter_table("source_follows") as batch:
        batch.add_column(sa.Column("multiplier", ExactDecimal(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_follows") as batch:
        batch.drop_column("multiplier")
    with op.batch_alter_table("signals") as batch:
        batch.drop_column("close_fraction")
        batch.drop_column("equity_fraction")
    op.drop_table("master_cursors")
    op.drop_table("master_accounts")
