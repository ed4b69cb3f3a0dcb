"""Copy fidelity: the master's reference price per signal, the follower's acknowledgement.

A signal keeps the first mark price its fan-out read for its symbol and when it was read;
an order intent keeps when the exchange acknowledged its fill. Latency and slippage are
computed from these and the fill price already stored (average_price). Columns are added in
place (SQLite 3.35+ adds and drops columns without rebuilding the table).

Revision ID: 0017_copy_fidelity
Revises: 0016_admin_activity
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mimic.adapters.sqlalchemy.tables import ExactDecimal, UtcDateTime

revision: str = "0017_copy_fidelity"
down_revision: str | None = "0016_admin_activity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("signals", sa.Column("reference_price", ExactDecimal(), nullable=True))
    op.add_column("signals", sa.Column("reference_at", UtcDateTime(), nullable=True))
    op.add_column("order_intents", sa.Column("acknowledged_at", UtcDateTime(), nullable=True))
    # Fidelity reports read a period's signals by ix_signals_received_at (0016).


def downgrade() -> None:
    op.drop_column("order_intents", "acknowledged_at")
    op.drop_column("signals", "reference_at")
    op.drop_column("signals", "reference_price")
