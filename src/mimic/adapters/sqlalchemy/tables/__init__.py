"""Core tables: the only place the schema is described (Alembic migrations mirror it).

Grouped by capability in the modules of this package; this module names them all, so
`tables.users` and `from mimic.adapters.sqlalchemy.tables import users` read every table.
Foreign keys name their tables by string, so the modules may join `metadata` in any order.
"""

from mimic.adapters.sqlalchemy.tables.accounts import (
    audit_events,
    exchange_accounts,
    message_threads,
    messages,
    password_reset_tokens,
    platform_settings,
    users,
)
from mimic.adapters.sqlalchemy.tables.lab import lab_runs
from mimic.adapters.sqlalchemy.tables.notifications import (
    notification_outbox,
    notification_preferences,
    panic_closes,
    panic_guard,
    panic_runs,
    telegram_link_codes,
    telegram_links,
)
from mimic.adapters.sqlalchemy.tables.paper import (
    PAPER_EVENT_SEQ,
    paper_account_events,
    paper_accounts,
    paper_orders,
    paper_positions,
    paper_prices,
    paper_protective_orders,
)
from mimic.adapters.sqlalchemy.tables.payments import (
    invoices,
    payouts,
    plans,
    referral_commissions,
    subscriptions,
)
from mimic.adapters.sqlalchemy.tables.portfolio import (
    balance_snapshots,
    guardrail_closes,
    guardrail_days,
)
from mimic.adapters.sqlalchemy.tables.signals import (
    account_fills,
    fill_read_marks,
    master_accounts,
    master_cursors,
    order_intents,
    signal_sources,
    signals,
    source_follows,
)
from mimic.adapters.sqlalchemy.tables.types import ID, ExactDecimal, NamedRow, UtcDateTime, metadata

__all__ = [
    "ID",
    "PAPER_EVENT_SEQ",
    "ExactDecimal",
    "NamedRow",
    "UtcDateTime",
    "account_fills",
    "audit_events",
    "balance_snapshots",
    "exchange_accounts",
    "fill_read_marks",
    "guardrail_closes",
    "guardrail_days",
    "invoices",
    "lab_runs",
    "master_accounts",
    "master_cursors",
    "message_threads",
    "messages",
    "metadata",
    "notification_outbox",
    "notification_preferences",
    "order_intents",
    "panic_closes",
    "panic_guard",
    "panic_runs",
    "paper_account_events",
    "paper_accounts",
    "paper_orders",
    "paper_positions",
    "paper_prices",
    "paper_protective_orders",
    "password_reset_tokens",
    "payouts",
    "plans",
    "platform_settings",
    "referral_commissions",
    "signal_sources",
    "signals",
    "source_follows",
    "subscriptions",
    "telegram_link_codes",
    "telegram_links",
    "users",
]
