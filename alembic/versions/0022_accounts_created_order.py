"""An index on exchange connections in the order a fan-out reads them, a page at a time:
each page is then read from where the last one ended, not sorted anew from all of them.

Revision ID: 0022_accounts_created_order
Revises: 0021_protective_order_events
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022_accounts_created_order"
down_revision: str | None = "0021_protective_order_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_exchange_accounts_created_at_id", "exchange_accounts", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_exchange_accounts_created_at_id", table_name="exchange_accounts")
