"""Indexes for the admin console's overview: signals per hour, recent rejected orders and
the notifications still failing.

The order index is on created_at alone, which never changes: the update that stores an
order's result still stays on its page (HOT, 0010). The outbox index holds only the rows
still failing, so it stays small.

Revision ID: 0016_admin_activity
Revises: 0015
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_admin_activity"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAILING = sa.text("sent_at IS NULL AND last_error IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_signals_received_at", "signals", ["received_at"])
    op.create_index("ix_order_intents_created_at", "order_intents", ["created_at"])
    op.create_index(
        "ix_notification_outbox_failing",
        "notification_outbox",
        ["created_at"],
        postgresql_where=FAILING,
        sqlite_where=FAILING,
    )


def downgrade() -> None:
    op.drop_index("ix_notification_outbox_failing", table_name="notification_outbox")
    op.drop_index("ix_order_intents_created_at", table_name="order_intents")
    op.drop_index("ix_signals_received_at", table_name="signals")
