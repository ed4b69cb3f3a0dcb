"""The repositories of one backend, as a repository contract test sees them.

`FakeStore` wires the fakes of tests/fakes/ as the unit tests do; `SqlStore`
builds the SQL adapters on one session per unit of work.
"""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.sqlalchemy.audit import SqlAuditLog
from mimic.adapters.sqlalchemy.credentials import SqlConnectionChecks, SqlCredentialRepository
from mimic.adapters.sqlalchemy.exchange_accounts import SqlExchangeAccountRepository
from mimic.adapters.sqlalchemy.follows import SqlSourceFollowRepository
from mimic.adapters.sqlalchemy.master_accounts import SqlMasterAccountRepository
from mimic.adapters.sqlalchemy.messages import SqlMessageRepository
from mimic.adapters.sqlalchemy.notifications import (
    SqlNotificationOutbox,
    SqlNotificationPreferences,
    SqlNotificationRecipients,
    SqlTelegramLinks,
)
from mimic.adapters.sqlalchemy.order_intents import SqlOrderIntentRepository
from mimic.adapters.sqlalchemy.panic import (
    SqlPanicCloseRepository,
    SqlPanicGuardStore,
    SqlPanicRunRepository,
)
from mimic.adapters.sqlalchemy.password_resets import SqlPasswordResetTokens
from mimic.adapters.sqlalchemy.payments import (
    SqlInvoiceRepository,
    SqlPaymentSettingsRepository,
    SqlPlanRepository,
    SqlReferralRepository,
    SqlSubscriptionRepository,
)
from mimic.adapters.sqlalchemy.performance import (
    SqlBalanceSnapshotRepository,
    SqlFillRepository,
    SqlGuardrailRepository,
)
from mimic.adapters.sqlalchemy.platform_settings import SqlSettingsRepository
from mimic.adapters.sqlalchemy.protection import SqlPositionIntentRepository
from mimic.adapters.sqlalchemy.signals import SqlSignalRepository, SqlSignalSourceRepository
from mimic.adapters.sqlalchemy.users import SqlUserRepository
from mimic.domain.payments import PaymentSettings
from mimic.ports.accounts import MessageRepository, PasswordResetTokens
from mimic.ports.credentials import ConnectionChecks, CredentialRepository
from mimic.ports.master_accounts import MasterAccountRepository
from mimic.ports.notifications import (
    NotificationOutbox,
    NotificationPreferences,
    NotificationRecipients,
    TelegramLinks,
)
from mimic.ports.panic import PanicCloseRepository, PanicGuardStore, PanicRunRepository
from mimic.ports.payments import (
    InvoiceRepository,
    PaymentSettingsRepository,
    PlanRepository,
    ReferralRepository,
    SubscriptionRepository,
)
from mimic.ports.performance import (
    BalanceSnapshotRepository,
    FillRepository,
    GuardrailRepository,
)
from mimic.ports.protection import PositionIntentRepository
from mimic.ports.repositories import (
    AuditLog,
    ExchangeAccountRepository,
    OrderIntentRepository,
    SettingsRepository,
    SignalRepository,
    SignalSourceRepository,
    SourceFollowRepository,
    UserRepository,
)
from tests.fakes.accounts import InMemoryMessageRepository, InMemoryPasswordResetTokens
from tests.fakes.credentials import InMemoryConnectionChecks, InMemoryCredentialRepository
from tests.fakes.master_accounts import InMemoryMasterAccountRepository
from tests.fakes.notifications import (
    InMemoryOutbox,
    InMemoryPreferences,
    InMemoryRecipients,
    InMemoryTelegramLinks,
)
from tests.fakes.panic import InMemoryPanicCloses, InMemoryPanicGuard, InMemoryPanicRuns
from tests.fakes.payments import (
    InMemoryInvoiceRepository,
    InMemoryPaymentSettingsRepository,
    InMemoryPlanRepository,
    InMemoryReferralRepository,
    InMemorySubscriptionRepository,
)
from tests.fakes.performance import (
    InMemoryBalanceSnapshotRepository,
    InMemoryFillRepository,
    InMemoryGuardrailRepository,
)
from tests.fakes.protection import InMemoryPositionIntentRepository
from tests.fakes.repositories.audit import InMemoryAuditLog
from tests.fakes.repositories.exchange_accounts import InMemoryExchangeAccountRepository
from tests.fakes.repositories.follows import InMemorySourceFollowRepository
from tests.fakes.repositories.order_intents import InMemoryOrderIntentRepository
from tests.fakes.repositories.platform_settings import InMemorySettingsRepository
from tests.fakes.repositories.signals import InMemorySignalSourceRepository
from tests.fakes.repositories.users import InMemoryUserRepository


@dataclass(frozen=True, slots=True)
class Repositories:
    users: UserRepository
    sources: SignalSourceRepository
    signals: SignalRepository
    accounts: ExchangeAccountRepository
    intents: OrderIntentRepository
    settings: SettingsRepository
    audit: AuditLog
    follows: SourceFollowRepository
    positions: PositionIntentRepository
    resets: PasswordResetTokens
    messages: MessageRepository
    plans: PlanRepository
    invoices: InvoiceRepository
    subscriptions: SubscriptionRepository
    referrals: ReferralRepository
    payment_settings: PaymentSettingsRepository
    guardrails: GuardrailRepository
    fills: FillRepository
    snapshots: BalanceSnapshotRepository
    credentials: CredentialRepository
    checks: ConnectionChecks
    panic_guard: PanicGuardStore
    panic_runs: PanicRunRepository
    panic_closes: PanicCloseRepository
    masters: MasterAccountRepository
    outbox: NotificationOutbox
    recipients: NotificationRecipients
    preferences: NotificationPreferences
    telegram_links: TelegramLinks


# What the platform's configuration says until an admin saves payment settings.
PAYMENT_DEFAULTS = PaymentSettings(referral_commission_perc=Decimal(15), require_subscription=True)


class Store(Protocol):
    name: str

    def unit(self) -> AbstractAsyncContextManager[Repositories]:
        """The repositories of one unit of work, committed when the block ends cleanly."""
        ...


class FakeStore(Store):
    """The fakes wired as the unit tests wire them: one set, shared by every unit of work."""

    name = "fake"

    def __init__(self) -> None:
        users = InMemoryUserRepository()
        accounts = InMemoryExchangeAccountRepository(users)
        intents = InMemoryOrderIntentRepository()
        guardrails = InMemoryGuardrailRepository()
        masters = InMemoryMasterAccountRepository()
        links = InMemoryTelegramLinks()
        self._repos = Repositories(
            users=users,
            sources=InMemorySignalSourceRepository(),
            signals=intents.signals,
            accounts=accounts,
            intents=intents,
            settings=InMemorySettingsRepository(),
            audit=InMemoryAuditLog(),
            follows=InMemorySourceFollowRepository(),
            positions=InMemoryPositionIntentRepository(intents),
            resets=InMemoryPasswordResetTokens(),
            messages=InMemoryMessageRepository(),
            plans=InMemoryPlanRepository(),
            invoices=InMemoryInvoiceRepository(),
            subscriptions=InMemorySubscriptionRepository(),
            referrals=InMemoryReferralRepository(users),
            payment_settings=InMemoryPaymentSettingsRepository(PAYMENT_DEFAULTS),
            guardrails=guardrails,
            fills=InMemoryFillRepository(intents, guardrails),
            snapshots=InMemoryBalanceSnapshotRepository(),
            credentials=InMemoryCredentialRepository(accounts),
            checks=InMemoryConnectionChecks(accounts),
            panic_guard=InMemoryPanicGuard(),
            panic_runs=InMemoryPanicRuns(),
            panic_closes=InMemoryPanicCloses(),
            masters=masters,
            outbox=InMemoryOutbox(),
            recipients=InMemoryRecipients(users, links),
            preferences=InMemoryPreferences(),
            telegram_links=links,
        )

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Repositories]:
        yield self._repos


class SqlStore(Store):
    """The SQL adapters, each unit of work on a session of `sessions`."""

    def __init__(self, name: str, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.name = name
        self.sessions = sessions

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Repositories]:
        async with self.sessions() as session:
            yield Repositories(
                users=SqlUserRepository(session),
                sources=SqlSignalSourceRepository(session),
                signals=SqlSignalRepository(session),
                accounts=SqlExchangeAccountRepository(session),
                intents=SqlOrderIntentRepository(session),
                settings=SqlSettingsRepository(session),
                audit=SqlAuditLog(session),
                follows=SqlSourceFollowRepository(session),
                positions=SqlPositionIntentRepository(session),
                resets=SqlPasswordResetTokens(session),
                messages=SqlMessageRepository(session),
                plans=SqlPlanRepository(session),
                invoices=SqlInvoiceRepository(session),
                subscriptions=SqlSubscriptionRepository(session),
                referrals=SqlReferralRepository(session),
                payment_settings=SqlPaymentSettingsRepository(session, PAYMENT_DEFAULTS),
                guardrails=SqlGuardrailRepository(session),
                fills=SqlFillRepository(session),
                snapshots=SqlBalanceSnapshotRepository(session),
                credentials=SqlCredentialRepository(session),
                checks=SqlConnectionChecks(session),
                panic_guard=SqlPanicGuardStore(session),
                panic_runs=SqlPanicRunRepository(session),
                panic_closes=SqlPanicCloseRepository(session),
                masters=SqlMasterAccountRepository(session),
                outbox=SqlNotificationOutbox(session),
                recipients=SqlNotificationRecipients(session),
                preferences=SqlNotificationPreferences(session),
                telegram_links=SqlTelegramLinks(session),
            )
            await session.commit()
