"""The repositories of one backend, as a repository contract test sees them.

`FakeStore` wires the fakes of tests/fakes/repositories/ as the unit tests do; `SqlStore`
builds the SQL adapters on one session per unit of work.
"""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from mimic.adapters.sqlalchemy.audit import SqlAuditLog
from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.sqlalchemy.exchange_accounts import SqlExchangeAccountRepository
from mimic.adapters.sqlalchemy.follows import SqlSourceFollowRepository
from mimic.adapters.sqlalchemy.order_intents import SqlOrderIntentRepository
from mimic.adapters.sqlalchemy.platform_settings import SqlSettingsRepository
from mimic.adapters.sqlalchemy.signals import SqlSignalRepository, SqlSignalSourceRepository
from mimic.adapters.sqlalchemy.users import SqlUserRepository
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
        intents = InMemoryOrderIntentRepository()
        self._repos = Repositories(
            users=users,
            sources=InMemorySignalSourceRepository(),
            signals=intents.signals,
            accounts=InMemoryExchangeAccountRepository(users),
            intents=intents,
            settings=InMemorySettingsRepository(),
            audit=InMemoryAuditLog(),
            follows=InMemorySourceFollowRepository(),
        )

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Repositories]:
        yield self._repos


class SqlStore(Store):
    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.engine = create_engine(url)
        self.sessions = create_session_factory(self.engine)

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
            )
            await session.commit()
