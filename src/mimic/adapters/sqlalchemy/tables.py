"""Core tables: the only place the schema is described (Alembic migrations mirror it)."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def plain_decimal(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (100 stays 100)."""
    return Decimal(format(value.normalize(), "f"))


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
)

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
    Column("dedupe_key", String(200), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    UniqueConstraint("source_id", "dedupe_key", name="uq_signals_source_dedupe"),
    Index("ix_signals_status_received", "status", "received_at"),
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
order_intents = Table(
    "order_intents",
    metadata,
    Column("id", ID, primary_key=True),
    Column("signal_id", ID, ForeignKey("signals.id"), nullable=False),
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
    UniqueConstraint("signal_id", "account_id", "leg", name="uq_order_intents_signal_account_leg"),
    Index("ix_order_intents_user_created", "user_id", "created_at"),
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
)

paper_prices = Table(
    "paper_prices",
    metadata,
    Column("symbol", String(32), primary_key=True),
    Column("price", ExactDecimal, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
