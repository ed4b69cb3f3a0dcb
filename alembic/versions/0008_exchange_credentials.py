"""Exchange credentials encrypted at rest, and the background validation's result.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mimic.adapters.sqlalchemy.tables import UtcDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_accounts") as batch:
        batch.add_column(sa.Column("credentials_token", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column(
                "validation_status",
                sa.String(16),
                nullable=False,
                server_default="unchecked",
            )
        )
        batch.add_column(sa.Column("validation_detail", sa.String(500), nullable=True))
        batch.add_column(sa.Column("validated_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchange_accounts") as batch:
        batch.drop_column("validated_at")
        batch.drop_column("validation_detail")
        batch.drop_column("validation_status")
        batch.drop_column("credentials_token")
