"""Signal sources and their followers, the signals, the orders they fan out to, and fills."""

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from mimic.adapters.sqlalchemy.tables.types import ID, ExactDecimal, UtcDateTime, metadata

__all__ = [
    "account_fills",
    "fill_read_marks",
    "master_accounts",
    "master_cursors",
    "order_intents",
    "signal_sources",
    "signals",
    "source_follows",
]

signal_sources = Table(
    "signal_sources",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("passphrase_hash", String(64), nullable=False, unique=True),
    Column("active", Boolean, nullable=False, default=True),
    # Which side the followers copy (0011): both, long_only or short_only.
    Column("direction", String(16), nullable=False, server_default="both"),
)

# A master's own exchange account as a source (0019): read-only keys sealed for the source,
# the symbols whose trade history is copied, and per symbol how far it was copied.
master_accounts = Table(
    "master_accounts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("source_id", ID, ForeignKey("signal_sources.id"), nullable=False, unique=True),
    Column("exchange", String(32), nullable=False),
    Column("symbols", String(1700), nullable=False),  # comma-separated, normalised
    Column("api_key_masked", String(32)),
    Column("credentials_token", Text),
    Column("permission_warning", String(200)),
    Column("created_at", UtcDateTime, nullable=False),
)

master_cursors = Table(
    "master_cursors",
    metadata,
    Column("source_id", ID, ForeignKey("signal_sources.id"), primary_key=True),
    Column("symbol", String(32), primary_key=True),
    Column("since", UtcDateTime, nullable=False),
    Column("copied_at_since", Text, nullable=False),  # trade ids, comma-separated
    Column("position", ExactDecimal, nullable=False),
)

# The sources a follower chose (0013), each with its allocation; none = follows every one.
source_follows = Table(
    "source_follows",
    metadata,
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("source_id", ID, ForeignKey("signal_sources.id"), primary_key=True),
    Column("risk_perc", ExactDecimal),
    Column("leverage", Integer),
    Column("direction", String(16), nullable=False, server_default="both"),
    # Scales entries copied from a master's exchange account (0019); None = 1.
    Column("multiplier", ExactDecimal),
    Index("ix_source_follows_source", "source_id"),
)

signals = Table(
    "signals",
    metadata,
    Column("id", ID, primary_key=True),
    Column("source_id", ID, ForeignKey("signal_sources.id"), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("action", String(8), nullable=False),
    Column("risk_perc", ExactDecimal),
    Column("leverage", Integer),
    Column("tp_perc", ExactDecimal),
    Column("sl_perc", ExactDecimal),
    Column("external_id", String(128)),
    # Proportional sizing of a signal copied from a master's exchange account (0019).
    Column("equity_fraction", ExactDecimal),
    Column("close_fraction", ExactDecimal),
    Column("dedupe_key", String(200), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    # Fan-out parts (0009): how many, and which finished, bit n standing for part n.
    Column("fanout_parts", Integer, nullable=False, server_default="1"),
    Column("finished_parts", Integer, nullable=False, server_default="0"),
    # Copy fidelity (0017): the first mark price the fan-out read, and when.
    Column("reference_price", ExactDecimal),
    Column("reference_at", UtcDateTime),
    UniqueConstraint("source_id", "dedupe_key", name="uq_signals_source_dedupe"),
    Index("ix_signals_status_received", "status", "received_at"),
    # The admin overview counts the last day's signals per hour (0016).
    Index("ix_signals_received_at", "received_at"),
)

# No foreign key to exchange_accounts: the history of a deleted connection stays.
# signal_id is null for orders the position monitor sends (trailing stop, DCA); those have a
# deterministic id instead and point at the entry that opened the position (parent_id).
order_intents = Table(
    "order_intents",
    metadata,
    Column("id", ID, primary_key=True),
    Column("signal_id", ID, ForeignKey("signals.id")),
    Column("account_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("leg", String(16), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("reduce_only", Boolean, nullable=False),
    Column("leverage", Integer),
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
    # Position protection (0004).
    Column("parent_id", ID),
    Column("tp_perc", ExactDecimal),
    Column("sl_perc", ExactDecimal),
    Column("stop_loss_price", ExactDecimal),
    Column("take_profit_price", ExactDecimal),
    Column("protection_error", Text),
    # Copy fidelity (0017): when the exchange's answer to the filled order arrived.
    Column("acknowledged_at", UtcDateTime),
    UniqueConstraint("signal_id", "account_id", "leg", name="uq_order_intents_signal_account_leg"),
    Index("ix_order_intents_user_created", "user_id", "created_at"),
    # The position monitor reads the latest entry per account and symbol every round.
    Index("ix_order_intents_account_symbol_created", "account_id", "symbol", "created_at"),
    # Only monitor orders have a parent: a signal's intents need no entry here (0010).
    Index(
        "ix_order_intents_parent_id",
        "parent_id",
        postgresql_where=text("parent_id IS NOT NULL"),
        sqlite_where=text("parent_id IS NOT NULL"),
    ),
    # The admin overview's recent rejections (0016). created_at never changes, so the
    # update with the order's result still stays on its page (HOT, 0010).
    Index("ix_order_intents_created_at", "created_at"),
    # Half-empty pages: the result written after the order updates the row in place (0010).
    postgresql_with={"fillfactor": 50},
)

# The exchange's fills of each account, as the portfolio sync reads them.
account_fills = Table(
    "account_fills",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("fill_id", String(64), primary_key=True),
    Column("user_id", ID, nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("price", ExactDecimal, nullable=False),
    Column("fee", ExactDecimal, nullable=False),
    Column("realized_pnl", ExactDecimal),  # None: the exchange does not report it
    Column("executed_at", UtcDateTime, nullable=False),
    # The exchange order it executed (0020): links the fill to Mimic's order, its signal
    # and so its source. None for fills stored before, or where the venue lists no order.
    Column("order_id", String(64)),
    Index("ix_account_fills_user_executed", "user_id", "executed_at"),
)

# Up to when each account's fills have been read (the next read starts there).
fill_read_marks = Table(
    "fill_read_marks",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("read_until", UtcDateTime, nullable=False),
)
