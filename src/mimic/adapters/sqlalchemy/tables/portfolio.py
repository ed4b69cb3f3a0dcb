"""Per-account balances over time and the daily guardrails that watch them."""

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from mimic.adapters.sqlalchemy.tables.types import ID, ExactDecimal, UtcDateTime, metadata

__all__ = ["balance_snapshots", "guardrail_closes", "guardrail_days"]

# One balance per account and hour (the hour's start), taken by the portfolio sync.
balance_snapshots = Table(
    "balance_snapshots",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("hour", UtcDateTime, primary_key=True),
    Column("user_id", ID, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("wallet_balance", ExactDecimal, nullable=False),
    Column("equity", ExactDecimal, nullable=False),
    Column("taken_at", UtcDateTime, nullable=False),
    Index("ix_balance_snapshots_user_hour", "user_id", "hour"),
)

# One row per exchange account and UTC day: the day's starting equity and, once a daily
# guardrail tripped, why (no foreign keys: history outlives a deleted connection).
guardrail_days = Table(
    "guardrail_days",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("user_id", ID, nullable=False),
    Column("start_equity", ExactDecimal, nullable=False),
    Column("trip_kind", String(16)),
    Column("trip_reason", Text),
    Column("tripped_at", UtcDateTime),
    Column("close_all_pending", Boolean, nullable=False, default=False),
)

# Reduce-only closes of a drawdown stop's close-all: stored before they are sent, with a
# deterministic client order id, exactly like the order intents of a signal.
guardrail_closes = Table(
    "guardrail_closes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("day", Date, nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("client_order_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_until", UtcDateTime),
    Column("exchange_order_id", String(64)),
    Column("filled_quantity", ExactDecimal),
    Column("average_price", ExactDecimal),
    Column("fee", ExactDecimal),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime),
    UniqueConstraint("account_id", "day", "symbol", name="uq_guardrail_closes_account_day_symbol"),
)
