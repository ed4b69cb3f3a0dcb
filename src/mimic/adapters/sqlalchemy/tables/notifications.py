"""Notifications (outbox, preferences, Telegram links) and the panic switch."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
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
    "notification_outbox",
    "notification_preferences",
    "panic_closes",
    "panic_guard",
    "panic_runs",
    "telegram_link_codes",
    "telegram_links",
]

# Notifications are stored before they are sent (an outbox): the worker delivers them, a
# sender that dies leaves them to the next one, and the fan-out never waits for Telegram.
notification_outbox = Table(
    "notification_outbox",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, nullable=False),
    Column("event", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("batch_key", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claim_token", String(32)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("delivered", String(32), nullable=False, default=""),  # channels, comma-separated
    Column("sent_at", UtcDateTime),
    Column("last_error", Text),
    Index("ix_notification_outbox_due", "sent_at", "next_attempt_at"),
    # The admin overview's failing deliveries: only rows still failing are in it (0016).
    Index(
        "ix_notification_outbox_failing",
        "created_at",
        postgresql_where=text("sent_at IS NULL AND last_error IS NOT NULL"),
        sqlite_where=text("sent_at IS NULL AND last_error IS NOT NULL"),
    ),
)

notification_preferences = Table(
    "notification_preferences",
    metadata,
    Column("user_id", ID, primary_key=True),
    Column("event", String(64), primary_key=True),
    Column("channels", String(32), nullable=False),  # comma-separated; empty: none
)

telegram_links = Table(
    "telegram_links",
    metadata,
    Column("user_id", ID, primary_key=True),
    Column("chat_id", String(32), nullable=False, unique=True),
    Column("linked_at", UtcDateTime, nullable=False),
)

# Only a hash of each one-time link code is kept.
telegram_link_codes = Table(
    "telegram_link_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("user_id", ID, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

# One row (id 1): the panic switch's replay and lockout memory.
panic_guard = Table(
    "panic_guard",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_step", BigInteger, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("locked_until", UtcDateTime),
    Column("confirmed", Boolean, nullable=False),
)

panic_runs = Table(
    "panic_runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("actor_id", ID, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("accounts", Text, nullable=False),  # JSON: what happened per account
    Column("finished_at", UtcDateTime),
)

# Reduce-only closes of a panic run: stored before they are sent, with a deterministic
# client order id per (run, account, symbol), exactly like the order intents of a signal.
panic_closes = Table(
    "panic_closes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("run_id", ID, nullable=False),
    Column("account_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("client_order_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("exchange_order_id", String(64)),
    Column("filled_quantity", ExactDecimal),
    Column("average_price", ExactDecimal),
    Column("fee", ExactDecimal),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime),
    UniqueConstraint("run_id", "account_id", "symbol", name="uq_panic_closes_run_account_symbol"),
    Index("ix_panic_closes_user_created", "user_id", "created_at"),
)
