"""The composition root: dishka providers, one per layer, overridable by tests."""

from collections.abc import AsyncIterator
from datetime import timedelta

from dishka import AsyncContainer, Provider, Scope, from_context, make_async_container, provide
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from taskiq import AsyncBroker

from mimic.adapters.ccxt.lazy import LazyCcxtGateways
from mimic.adapters.crypto import FernetSecretBox
from mimic.adapters.memory.streamed_accounts import InMemoryStreamedAccounts
from mimic.adapters.memory.trailing import InMemoryTrailingStateStore
from mimic.adapters.metered_gateways import MeteredGateways
from mimic.adapters.paper.faults import PaperFaults
from mimic.adapters.paper.gateway import PaperGateways
from mimic.adapters.paper.price_feed import PaperPriceFeed
from mimic.adapters.paper.venue import PaperVenue
from mimic.adapters.price_feeds import PriceFeedsByExchange
from mimic.adapters.prometheus.metrics import PrometheusMetrics
from mimic.adapters.redis.streamed_accounts import RedisStreamedAccounts
from mimic.adapters.redis.trailing import RedisTrailingStateStore
from mimic.adapters.routing import ExchangeRouter
from mimic.adapters.sqlalchemy.activity import SqlPlatformActivity
from mimic.adapters.sqlalchemy.audit import SqlAuditLog
from mimic.adapters.sqlalchemy.credentials import SqlConnectionChecks, SqlCredentialRepository
from mimic.adapters.sqlalchemy.engine import (
    close_engine,
    create_engine,
    create_session_factory,
    open_intake_pool,
)
from mimic.adapters.sqlalchemy.exchange_accounts import SqlExchangeAccountRepository
from mimic.adapters.sqlalchemy.follows import SqlSourceFollowRepository
from mimic.adapters.sqlalchemy.intake import SqlSignalIntake
from mimic.adapters.sqlalchemy.order_intents import SqlOrderIntentRepository
from mimic.adapters.sqlalchemy.platform_settings import SqlSettingsRepository
from mimic.adapters.sqlalchemy.protection import SqlPositionIntentRepository
from mimic.adapters.sqlalchemy.signals import SqlSignalRepository, SqlSignalSourceRepository
from mimic.adapters.sqlalchemy.transactions import SqlTransactionManager
from mimic.adapters.sqlalchemy.users import SqlUserRepository
from mimic.adapters.sqlalchemy.vault import StoredCredentialVault
from mimic.adapters.system import Argon2PasswordHasher, BoundedPasswordHasher, SystemClock
from mimic.adapters.taskiq_queue import TaskiqSignalQueue, TaskiqValidationQueue
from mimic.application.authenticate_user import AuthenticateUser
from mimic.application.bootstrap import BootstrapPlatform
from mimic.application.exchange_connections import (
    ConnectExchange,
    ListConnections,
    ManageConnection,
    ReviewConnection,
)
from mimic.application.execute_signal import ExecuteSignal
from mimic.application.follower_settings import UpdateFollowerSettings
from mimic.application.monitor_positions import MonitorPolicy, MonitorPositions
from mimic.application.order_history import ViewOrderHistory
from mimic.application.platform_activity import ViewPlatformActivity
from mimic.application.platform_admin import ManagePlatformSettings, SetPaperPrice
from mimic.application.portfolio import ViewPortfolio
from mimic.application.position_protection import PositionProtection
from mimic.application.protection_status import ViewProtection
from mimic.application.receive_signal import ReceiveSignal
from mimic.application.register_user import RegisterUser
from mimic.application.rotate_keys import RotateCredentialKeys
from mimic.application.signal_planning import ExecutionPolicy
from mimic.application.signal_reports import ReportSignals
from mimic.application.signal_sources import ManageSignalSources
from mimic.application.source_follows import FollowSources
from mimic.application.sweep_signals import SweepUnfinishedSignals
from mimic.application.validate_connection import SweepUnvalidatedConnections, ValidateConnection
from mimic.domain.accounts import PAPER_EXCHANGE
from mimic.entrypoints.config import Settings
from mimic.entrypoints.ioc.accounts import AccountsProvider, make_mailer
from mimic.entrypoints.ioc.health import HealthProvider
from mimic.entrypoints.ioc.lab import LabProvider
from mimic.entrypoints.ioc.live import LiveEventsProvider
from mimic.entrypoints.ioc.master_accounts import MasterAccountsProvider
from mimic.entrypoints.ioc.notifications import NotificationsProvider
from mimic.entrypoints.ioc.payments import PaymentGatewayProvider, PaymentsProvider
from mimic.entrypoints.ioc.performance import PerformanceProvider
from mimic.entrypoints.ioc.streams import AccountStreamsProvider
from mimic.entrypoints.worker.activity import FanoutActivity
from mimic.ports.credentials import (
    ConnectionChecks,
    CredentialRepository,
    SecretBox,
    ValidationQueue,
)
from mimic.ports.exchange import CredentialVault, ExchangeGateways, PaperMarket, SymbolCatalog
from mimic.ports.intake import SignalIntake
from mimic.ports.metrics import Metrics
from mimic.ports.protection import (
    PositionIntentRepository,
    PriceFeed,
    PriceFeeds,
    TrailingStateStore,
)
from mimic.ports.repositories import (
    AuditLog,
    ExchangeAccountRepository,
    OrderIntentRepository,
    PlatformActivity,
    SettingsRepository,
    SignalRepository,
    SignalSourceRepository,
    SourceFollowRepository,
    TransactionManager,
    UserRepository,
)
from mimic.ports.services import Clock, Mailer, PasswordHasher, SignalQueue
from mimic.ports.streamed_accounts import StreamedAccounts

# How long the database work still in flight when the process stops (the paper venue's
# batches, whose callers were cancelled) may take before its connections are closed.
DATABASE_CLOSE_GRACE_SECONDS = 5.0


class InfrastructureProvider(Provider):
    """APP scope: one engine, broker, venue and gateway pool per process."""

    scope = Scope.APP
    settings = from_context(provides=Settings)
    broker = from_context(provides=AsyncBroker)
    clock = provide(SystemClock, provides=Clock)
    queue = provide(TaskiqSignalQueue, provides=SignalQueue)
    validation_queue = provide(TaskiqValidationQueue, provides=ValidationQueue)
    fanout_activity = provide(FanoutActivity)

    @provide
    def mailer(self, settings: Settings) -> Mailer:
        return make_mailer(settings)

    @provide
    def hasher(self, settings: Settings) -> PasswordHasher:
        concurrency = settings.password_hash_concurrency
        # A few rounds of queue: seconds of wait, far inside the connection pool's timeout.
        return BoundedPasswordHasher(Argon2PasswordHasher(), concurrency, waiting=4 * concurrency)

    @provide
    async def engine(self, settings: Settings) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(settings.database_url)
        yield engine
        await close_engine(engine, DATABASE_CLOSE_GRACE_SECONDS)

    @provide
    def session_factory(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        return create_session_factory(engine)

    @provide
    async def signal_intake(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession]
    ) -> AsyncIterator[SignalIntake]:
        at_once = await open_intake_pool(settings.database_url)
        yield SqlSignalIntake(sessions, at_once)
        if at_once is not None:
            await at_once.close()

    @provide
    def paper_venue(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings
    ) -> PaperVenue:
        return PaperVenue(
            sessions,
            clock,
            starting_balance=settings.paper_starting_balance,
            faults=PaperFaults(latency=settings.paper_latency.total_seconds()),
        )

    @provide
    def paper_market(self, venue: PaperVenue) -> PaperMarket:
        return venue

    @provide
    def symbol_catalog(self, venue: PaperVenue) -> SymbolCatalog:
        return venue

    @provide
    def secret_box(self, settings: Settings) -> SecretBox:
        return FernetSecretBox(settings.master_keys)

    @provide
    def credential_vault(
        self, sessions: async_sessionmaker[AsyncSession], box: SecretBox
    ) -> CredentialVault:
        return StoredCredentialVault(sessions, box)

    @provide
    async def ccxt_gateways(
        self,
        vault: CredentialVault,
        settings: Settings,
        metrics: Metrics,
        streamed: StreamedAccounts,
    ) -> AsyncIterator[LazyCcxtGateways]:
        # ccxt is imported when a ccxt exchange is first used: never by a paper-only process.
        gateways = LazyCcxtGateways(
            vault,
            api_origins=settings.ccxt_api_origins,
            metrics=metrics,
            streamed=streamed if settings.streamed_positions else None,
        )
        yield gateways
        await gateways.aclose()

    @provide
    async def streamed_accounts(self, settings: Settings) -> AsyncIterator[StreamedAccounts]:
        """What the accounts' live streams report, written by the workers holding them and
        read by whichever plans: Redis in production, this process's memory embedded."""
        if settings.redis_url is None:
            yield InMemoryStreamedAccounts()
            return
        # A Redis that answers slowly costs every plan its wait: short, then REST instead.
        client = Redis.from_url(settings.redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
        store = RedisStreamedAccounts(client, prefix=f"{settings.queue_name}:accounts:")
        yield store
        await store.aclose()
        await client.aclose()

    @provide
    def metrics(self, settings: Settings) -> Metrics:
        return PrometheusMetrics(egress_ip=settings.egress_ip)

    @provide
    def gateways(
        self, venue: PaperVenue, ccxt: LazyCcxtGateways, metrics: Metrics, clock: Clock
    ) -> ExchangeGateways:
        return MeteredGateways(ExchangeRouter([PaperGateways(venue), ccxt]), metrics, clock)

    @provide
    def price_feeds(self, venue: PaperVenue, ccxt: LazyCcxtGateways) -> PriceFeeds:
        def live(exchange: str) -> PriceFeed | None:
            return ccxt.price_feed(exchange) if ccxt.supports(exchange) else None

        return PriceFeedsByExchange({PAPER_EXCHANGE: PaperPriceFeed(venue)}, live)

    @provide
    async def trailing_states(self, settings: Settings) -> AsyncIterator[TrailingStateStore]:
        """Redis in production (workers restart and share); this process's memory embedded."""
        if settings.redis_url is None:
            yield InMemoryTrailingStateStore()
            return
        # Bounded: a hung Redis fails a monitor round or a protection view, it never holds one.
        client = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
        yield RedisTrailingStateStore(client, prefix=settings.trailing_key_prefix)
        await client.aclose()

    @provide
    def monitor_policy(self, settings: Settings) -> MonitorPolicy:
        return MonitorPolicy(lease=settings.intent_lease)

    @provide
    def execution_policy(self, settings: Settings) -> ExecutionPolicy:
        return ExecutionPolicy(
            concurrency_per_exchange=settings.fanout_concurrency,
            concurrency_overrides={PAPER_EXCHANGE: settings.paper_concurrency},
            lease=settings.intent_lease,
            send_margin=min(settings.intent_lease / 3, timedelta(seconds=20)),
            max_signal_age=settings.max_signal_age,
        )


class PersistenceProvider(Provider):
    """REQUEST scope: one session per request or task, never shared across tasks."""

    scope = Scope.REQUEST

    @provide
    async def session(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            yield session

    tx = provide(SqlTransactionManager, provides=TransactionManager)
    users = provide(SqlUserRepository, provides=UserRepository)
    sources = provide(SqlSignalSourceRepository, provides=SignalSourceRepository)
    follows = provide(SqlSourceFollowRepository, provides=SourceFollowRepository)
    signals = provide(SqlSignalRepository, provides=SignalRepository)
    accounts = provide(SqlExchangeAccountRepository, provides=ExchangeAccountRepository)
    intents = provide(SqlOrderIntentRepository, provides=OrderIntentRepository)
    settings_repo = provide(SqlSettingsRepository, provides=SettingsRepository)
    audit = provide(SqlAuditLog, provides=AuditLog)
    position_intents = provide(SqlPositionIntentRepository, provides=PositionIntentRepository)
    credentials = provide(SqlCredentialRepository, provides=CredentialRepository)
    connection_checks = provide(SqlConnectionChecks, provides=ConnectionChecks)
    platform_activity = provide(SqlPlatformActivity, provides=PlatformActivity)


class InteractorProvider(Provider):
    scope = Scope.REQUEST

    @provide(scope=Scope.APP)  # nothing of a request's: built once, not per alert
    def receive_signal(
        self,
        intake: SignalIntake,
        catalog: SymbolCatalog,
        queue: SignalQueue,
        clock: Clock,
        settings: Settings,
        metrics: Metrics,
    ) -> ReceiveSignal:
        return ReceiveSignal(
            intake,
            catalog,
            queue,
            clock,
            settings.dedupe_window,
            metrics,
            fanout_parts=settings.fanout_parts,
        )

    @provide
    def sweep(
        self,
        signals: SignalRepository,
        intents: OrderIntentRepository,
        queue: SignalQueue,
        clock: Clock,
        settings: Settings,
    ) -> SweepUnfinishedSignals:
        # A started signal younger than a lease is most likely still being worked on.
        return SweepUnfinishedSignals(signals, intents, queue, clock, grace=settings.intent_lease)

    @provide
    def sweep_connections(
        self,
        checks: ConnectionChecks,
        queue: ValidationQueue,
        clock: Clock,
        settings: Settings,
    ) -> SweepUnvalidatedConnections:
        return SweepUnvalidatedConnections(checks, queue, clock, settings.validation_retry)

    validate_connection = provide(ValidateConnection)
    rotate_keys = provide(RotateCredentialKeys)
    execute_signal = provide(ExecuteSignal)
    position_protection = provide(PositionProtection)
    monitor_positions = provide(MonitorPositions)
    view_protection = provide(ViewProtection)
    register_user = provide(RegisterUser)
    authenticate_user = provide(AuthenticateUser)
    update_settings = provide(UpdateFollowerSettings)
    connect_exchange = provide(ConnectExchange)
    list_connections = provide(ListConnections)
    manage_connection = provide(ManageConnection)
    review_connection = provide(ReviewConnection)
    portfolio = provide(ViewPortfolio)
    order_history = provide(ViewOrderHistory)
    reports = provide(ReportSignals)
    view_activity = provide(ViewPlatformActivity)
    platform_settings = provide(ManagePlatformSettings)
    set_paper_price = provide(SetPaperPrice)
    bootstrap = provide(BootstrapPlatform)
    signal_sources = provide(ManageSignalSources)
    follow_sources = provide(FollowSources)


def build_container(
    settings: Settings, broker: AsyncBroker, *overrides: Provider
) -> AsyncContainer:
    """Later providers win: tests pass fakes or tuned adapters as `overrides`."""
    return make_async_container(
        InfrastructureProvider(),
        PersistenceProvider(),
        InteractorProvider(),
        AccountsProvider(),
        PaymentGatewayProvider(),
        PaymentsProvider(),
        PerformanceProvider(),
        NotificationsProvider(),
        LabProvider(),
        LiveEventsProvider(),
        HealthProvider(),
        AccountStreamsProvider(),
        MasterAccountsProvider(),
        *overrides,
        context={Settings: settings, AsyncBroker: broker},
    )
