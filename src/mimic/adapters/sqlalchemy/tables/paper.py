"""The paper exchange's books, kept in the same database as everything else."""

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table

from mimic.adapters.sqlalchemy.tables.types import ID, ExactDecimal, UtcDateTime, metadata

__all__ = [
    "PAPER_EVENT_SEQ",
    "paper_account_events",
    "paper_accounts",
    "paper_orders",
    "paper_positions",
    "paper_prices",
    "paper_protective_orders",
]

# The paper exchange keeps its books in the same database, so HTTP and worker processes
# see one venue and a restarted worker finds the orders it placed before it died.
paper_accounts = Table(
    "paper_accounts",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("currency", String(8), nullable=False),
    Column("wallet_balance", ExactDecimal, nullable=False),
    # Half-empty pages: every order's update of the row stays on its page (HOT, 0023).
    postgresql_with={"fillfactor": 50},
)

paper_positions = Table(
    "paper_positions",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("symbol", String(32), primary_key=True),
    Column("quantity", ExactDecimal, nullable=False),  # signed: short < 0
    Column("entry_price", ExactDecimal, nullable=False),
    Column("leverage", Integer, nullable=False),
    postgresql_with={"fillfactor": 50},  # as paper_accounts (0023)
)

paper_orders = Table(
    "paper_orders",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, nullable=False),
    Column("client_order_id", String(36), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("price", ExactDecimal, nullable=False),
    Column("fee", ExactDecimal, nullable=False),
    Column("realized_pnl", ExactDecimal, nullable=False),
    Column("reduce_only", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_paper_orders_account_client", "account_id", "client_order_id"),
    Index("ix_paper_orders_account_created", "account_id", "created_at"),
)

# The paper venue's account events, written in the transaction that changed the account:
# a stream reads them in `seq` order (gaps from rolled-back transactions are skipped).
PAPER_EVENT_SEQ = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: the rowid
paper_account_events = Table(
    "paper_account_events",
    metadata,
    Column("seq", PAPER_EVENT_SEQ, primary_key=True, autoincrement=True),
    Column("account_id", ID, nullable=False),
    # "fill": the paper_orders row it executed (`order_id`) and the position it left;
    # "placed" / "cancelled": a protective order's (`protective_order_id`).
    Column("kind", String(16), nullable=False, server_default="fill"),
    Column("order_id", ID),
    Column("protective_order_id", ID),
    Column("position_after", ExactDecimal),  # signed: short < 0
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_paper_account_events_created", "created_at"),
)

paper_prices = Table(
    "paper_prices",
    metadata,
    Column("symbol", String(32), primary_key=True),
    Column("price", ExactDecimal, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Native stop-loss / take-profit orders of the paper exchange: in the database like its other
# books, so whichever process moves the price fires them exactly once (status compare-and-set).
paper_protective_orders = Table(
    "paper_protective_orders",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("client_order_id", String(36), nullable=False),
    Column("kind", String(2), nullable=False),  # "sl" / "tp"
    Column("position_side", String(5), nullable=False),
    Column("trigger_price", ExactDecimal, nullable=False),
    Column("status", String(16), nullable=False),  # open, triggered, cancelled
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime),
    Index("ix_paper_protective_orders_symbol_status", "symbol", "status"),
    Index("ix_paper_protective_orders_account_symbol", "account_id", "symbol"),
)
