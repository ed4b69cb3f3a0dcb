"""Two panic requests with one TOTP code at the same moment: exactly one run, on SQLite
and on Postgres. Both requests read the guard before either writes (a barrier makes sure
of it), so only the compare-and-set on the last accepted step tells them apart."""

import asyncio
from collections.abc import AsyncIterator

import pyotp
import pytest
from dishka import AsyncContainer, Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.panic import SqlPanicGuardStore
from mimic.application.panic import PullPanic
from mimic.domain.errors import PermissionDenied
from mimic.domain.panic import PanicGuardState, PanicRun
from mimic.entrypoints.cli import bootstrap
from mimic.entrypoints.ioc.root import build_container
from mimic.entrypoints.worker.tasks import create_broker
from mimic.ports.panic import PanicGuardStore, PanicRunRepository
from mimic.ports.repositories import AuditLog, SettingsRepository, UserRepository
from tests.integration.harness import CheapHasherProvider, make_settings

SECRET = pyotp.random_base32()


class ReadTogether(PanicGuardStore):
    """The real store; a load returns only once every request has loaded."""

    def __init__(self, store: PanicGuardStore, barrier: asyncio.Barrier) -> None:
        self._store = store
        self._barrier = barrier

    async def load(self) -> PanicGuardState:
        state = await self._store.load()
        await self._barrier.wait()
        return state

    async def save(self, state: PanicGuardState, *, expected_last_step: int) -> bool:
        return await self._store.save(state, expected_last_step=expected_last_step)


class GuardReadTogether(Provider):
    def __init__(self, barrier: asyncio.Barrier) -> None:
        super().__init__()
        self._barrier = barrier

    @provide(scope=Scope.REQUEST)
    def guard(self, session: AsyncSession) -> PanicGuardStore:
        return ReadTogether(SqlPanicGuardStore(session), self._barrier)


@pytest.fixture
async def container(database_url: str) -> AsyncIterator[AsyncContainer]:
    settings = make_settings(database_url, panic_totp_secret=SECRET)
    await bootstrap(settings, CheapHasherProvider())  # the admin
    built = build_container(
        settings,
        create_broker(settings),
        CheapHasherProvider(),
        GuardReadTogether(asyncio.Barrier(2)),
    )
    yield built
    await built.close()


async def test_two_requests_with_one_code_make_exactly_one_run(container: AsyncContainer) -> None:
    code = pyotp.TOTP(SECRET).now()

    async def pull() -> PanicRun | PermissionDenied:
        async with container() as request:
            admin = await (await request.get(UserRepository)).get_by_username("admin")
            assert admin is not None
            try:
                return await (await request.get(PullPanic))(admin, code, ip=None, via="test")
            except PermissionDenied as exc:
                return exc

    results = await asyncio.wait_for(asyncio.gather(pull(), pull()), timeout=60)

    runs = [r for r in results if isinstance(r, PanicRun)]
    refused = [r for r in results if isinstance(r, PermissionDenied)]
    assert len(runs) == 1, results
    assert [str(r) for r in refused] == ["wrong or already used one-time password"]
    async with container() as request:
        assert await (await request.get(PanicRunRepository)).get(runs[0].id) is not None
        events = await (await request.get(AuditLog)).list(action="panic.")
        verdicts = sorted((e.action, e.details.get("verdict")) for e in events)
        assert verdicts == [("panic.accepted", "accepted"), ("panic.denied", "replayed")]
        assert await (await request.get(SettingsRepository)).copying_paused() is True
