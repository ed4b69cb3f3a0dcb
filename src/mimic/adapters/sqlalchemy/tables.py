"""Core tables: the only place the schema is described (Alembic migrations mirror it)."""

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from mimic.domain.decimals import plain_decimal

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


# A row read by column name (`row["email"]`): a RowMapping, or a dict built from a row.
# Far cheaper than `row[table.c.email]`, which pays ColumnCollection and key lookups.
NamedRow = Mapping[Any, Any]


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC on Postgres; text on SQLite, whose NUMERIC would round through a float."""

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(38, 18))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return Decimal(value)
        return format(Decimal(value), "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return plain_decimal(Decimal(value))


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which stores naive text) as on Postgres."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Mimic stores UTC-aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


ID = String(32)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("username", String(32), nullable=False, unique=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("risk_perc", ExactDecimal),
    Column("leverage", Integer),
    Column("paused", Boolean, nullable=False, default=False),
    Column("max_risk_perc", ExactDecimal),
    Column("max_leverage", Integer),
    Column("created_at", UtcDateTime, nullable=False),
    Column("referral_code", String(16), unique=True),
    Column("referred_by", ID, ForeignKey("users.id")),
    Column("token_version", Integer, nullable=False, default=0, server_default="0"),
    Column("failed_logins", Integer, nullable=False, default=0, server_default="0"),
    Column("locked_until", UtcDateTime),
    Column("deleted_at", UtcDateTime),
    # Position protection (0004): TP/SL defaults, trailing stop, DCA.
    Column("tp_perc", ExactDecimal),
    Column("sl_perc", ExactDecimal),
    Column("trailing_enabled", Boolean, nullable=False, default=False),
    Column("trailing_activation_perc", ExactDecimal),
    Column("trailing_callback_perc", ExactDecimal),
    Column("dca_enabled", Boolean, nullable=False, default=False),
    Column("dca_trigger_drawdown_perc", ExactDecimal),
    Column("dca_size_multiplier", ExactDecimal),
    Column("dca_max_adds", Integer),
    Column("dca_spacing_perc", ExactDecimal),
    Column("dca_spacing_seconds", Integer),
    # Daily guardrails and the leaderboard (migration 0006).
    Column("guard_drawdown_perc", ExactDecimal),
    Column("guard_close_all", Boolean, nullable=False, default=False, server_default=false()),
    Column("guard_profit_lock_perc", ExactDecimal),
    Column("leaderboard_opt_out", Boolean, nullable=False, default=False, server_default=false()),
)
# One account per name and address whatever their case (migration 0012).
Index("uq_users_username_folded", func.lower(users.c.username), unique=True)
Index("uq_users_email_folded", func.lower(users.c.email), unique=True)

password_reset_tokens = Table(
    "password_reset_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
)

message_threads = Table(
    "message_threads",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("subject", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_message_threads_updated", "updated_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", ID, primary_key=True),
    Column("thread_id", ID, ForeignKey("message_threads.id"), nullable=False),
    Column("sender_id", ID, ForeignKey("users.id"), nullable=False),
    Column("from_admin", Boolean, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("read_at", UtcDateTime),
    Index("ix_messages_thread_created", "thread_id", "created_at"),
)

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

exchange_accounts = Table(
    "exchange_accounts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("exchange", String(32), nullable=False),
    Column("label", String(64), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("api_key_masked", String(32)),
    Column("status_reason", String(500)),
    Column("created_at", UtcDateTime, nullable=False),
    # The connection's API credentials, encrypted (adapters.crypto); never the plaintext.
    Column("credentials_token", Text),
    Column("validation_status", String(16), nullable=False, server_default="unchecked"),
    Column("validation_detail", String(500)),
    Column("validated_at", UtcDateTime),
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

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", ID, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("action", String(64), nullable=False),
    Column("actor_id", ID),
    Column("target", String(100)),
    Column("ip", String(64)),
    Column("details", Text, nullable=False),  # a JSON object of strings
    Index("ix_audit_events_at", "at"),
    Index("ix_audit_events_action_at", "action", "at"),
)

platform_settings = Table(
    "platform_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# The paper exchange keeps its books in the same database, so HTTP and worker processes
# see one venue and a restarted worker finds the orders it placed before it died.
paper_accounts = Table(
    "paper_accounts",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("currency", String(8), nullable=False),
    Column("wallet_balance", ExactDecimal, nullable=False),
)

paper_positions = Table(
    "paper_positions",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("symbol", String(32), primary_key=True),
    Column("quantity", ExactDecimal, nullable=False),  # signed: short < 0
    Column("entry_price", ExactDecimal, nullable=False),
    Column("leverage", Integer, nullable=False),
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
    Column("order_id", ID, nullable=False),  # the paper_orders row it executed
    Column("position_after", ExactDecimal, nullable=False),  # signed: short < 0
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

# --- payments: plans, Plisio invoices, subscriptions, referral commissions -------------

plans = Table(
    "plans",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(50), nullable=False),
    # Lower-cased name: plans are looked up by name case-insensitively.
    Column("name_key", String(50), nullable=False, unique=True),
    Column("price_usd", ExactDecimal, nullable=False),
    Column("duration_days", Integer, nullable=False),
    Column("max_exchange_connections", Integer, nullable=False),
    Column("features", Text, nullable=False),  # a JSON list of strings
    Column("active", Boolean, nullable=False, default=True),
    Column("sort_order", Integer, nullable=False, default=0),
)

# `id` is also the order_number sent to Plisio, hence unique there too.
invoices = Table(
    "invoices",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("plan_id", ID, ForeignKey("plans.id"), nullable=False),
    Column("plan_name", String(50), nullable=False),
    Column("amount_usd", ExactDecimal, nullable=False),
    Column("duration_days", Integer, nullable=False),
    Column("currency", String(16)),
    Column("status", String(16), nullable=False),
    Column("provider_txn_id", String(64), unique=True),
    Column("invoice_url", String(500)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime),
    Column("completed_at", UtcDateTime),
    Index("ix_invoices_user_created", "user_id", "created_at"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("plan_id", ID, ForeignKey("plans.id")),
    Column("plan_name", String(50), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("expiring_notice_for", UtcDateTime),
    Column("expired_notice_for", UtcDateTime),
)

payouts = Table(
    "payouts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("referrer_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("amount_usd", ExactDecimal, nullable=False),
    Column("paid_at", UtcDateTime, nullable=False),
    Column("paid_by", ID, nullable=False),
)

referral_commissions = Table(
    "referral_commissions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("referrer_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("referred_user_id", ID, ForeignKey("users.id"), nullable=False),
    # One commission per paid invoice, however often its callback arrives.
    Column("invoice_id", ID, ForeignKey("invoices.id"), nullable=False, unique=True),
    Column("amount_usd", ExactDecimal, nullable=False),
    Column("perc", ExactDecimal, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("payout_id", ID, ForeignKey("payouts.id")),
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

# Replays started from the web console (the strategy lab): the upload and what it wrote.
lab_runs = Table(
    "lab_runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("created_by", ID, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("inputs", LargeBinary, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("error", Text),
    Column("report_json", Text),
    Column("trades_csv", Text),
    Column("equity_png", LargeBinary),
    Column("equity_html", Text),
    Index("ix_lab_runs_created_at", "created_at"),
)
