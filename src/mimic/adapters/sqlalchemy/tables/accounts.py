"""Users and what hangs off them: resets, messages, exchange connections, audit, settings."""

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
    func,
)

from mimic.adapters.sqlalchemy.tables.types import ID, ExactDecimal, UtcDateTime, metadata

__all__ = [
    "audit_events",
    "exchange_accounts",
    "message_threads",
    "messages",
    "password_reset_tokens",
    "platform_settings",
    "users",
]

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
    # A fan-out reads its followers a page at a time in this order (list_copy_candidates).
    Index("ix_exchange_accounts_created_at_id", "created_at", "id"),
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
