"""Cheaper writes of order intents on Postgres, the fan-out's busiest table.

Every intent is written twice: stored before its order is sent, then updated with the
result. With full pages the update cannot stay on the row's page, so Postgres writes a new
entry into each of the table's indexes; half-empty pages let it update in place (HOT: no
index writes; the row's old version is pruned later). The parent index only ever finds
monitor orders, which have a parent: intents of signals, which have none, leave it alone.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HAS_PARENT = sa.text("parent_id IS NOT NULL")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE order_intents SET (fillfactor = 50)")
    op.drop_index("ix_order_intents_parent_id", table_name="order_intents")
    op.create_index(
        "ix_order_intents_parent_id",
        "order_intents",
        ["parent_id"],
        postgresql_where=HAS_PARENT,
        sqlite_where=HAS_PARENT,
    )


def downgrade() -> None:
    op.drop_index("ix_order_intents_parent_id", table_name="order_intents")
    op.create_index("ix_order_intents_parent_id", "order_intents", ["parent_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE order_intents RESET (fillfactor)")
