"""Service fixtures: real SQLite always; real Postgres and Redis when they answer.

Locally a missing service skips its tests with a message; with
MIMIC_TEST_REQUIRE_SERVICES=1 (as .ci/run sets) it fails them instead.

Migrating takes far longer than copying a database, so each session migrates one template
per backend and every test gets a copy at head; the migration tests ask for an empty one.
"""

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn

import asyncpg
import pytest
import redis.asyncio as aioredis

from mimic.adapters.sqlalchemy.migrations import upgrade

REQUIRE_SERVICES = os.environ.get("MIMIC_TEST_REQUIRE_SERVICES") == "1"
POSTGRES_DSN = os.environ.get(
    "MIMIC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("MIMIC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def service_unavailable(name: str, error: BaseException) -> NoReturn:
    message = f"{name} is not available ({error!r})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; MIMIC_TEST_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(f"{message}; set MIMIC_TEST_REQUIRE_SERVICES=1 to fail instead of skipping")


def sqlite_url_for(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "mimic.db"
    upgrade(sqlite_url_for(path))
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite_file: Path) -> str:
    """A fresh database per test, already at the head revision."""
    path = tmp_path / "mimic.db"
    shutil.copy(migrated_sqlite_file, path)
    return sqlite_url_for(path)


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> str:
    return sqlite_url_for(tmp_path / "mimic.db")


def postgres_url_for(name: str) -> str:
    base = POSTGRES_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def execute_as_admin(statement: str) -> None:
    try:
        admin = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        service_unavailable("Postgres", exc)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


async def drop_database(name: str) -> None:
    await execute_as_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class TemplateCopies:
    """Databases copied from the migrated template, each one made while the test before runs,
    and dropped while the tests after it run.

    Copying takes about half a second and dropping as long again; the default strategy
    (WAL_LOG) beats FILE_COPY here, which forces two checkpoints. One thread does both, so
    a session never has more than one of them going on the server at a time.
    """

    def __init__(self, template: str) -> None:
        self._template = template
        self._maker = ThreadPoolExecutor(max_workers=1)
        self._next = self._maker.submit(self._copy)
        self._drops: list[Future[None]] = []

    def _copy(self) -> str:
        name = f"mimic_test_{uuid.uuid4().hex[:12]}"
        asyncio.run(execute_as_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"'))
        return name

    def take(self) -> str:
        name = self._next.result()
        self._next = self._maker.submit(self._copy)
        return name

    def discard(self, name: str) -> None:
        """Drops the copy in the background; `close` waits for it and raises its error."""
        self._drops.append(self._maker.submit(lambda: asyncio.run(drop_database(name))))

    def close(self) -> None:
        self._maker.shutdown()
        if self._next.exception() is None:
            asyncio.run(drop_database(self._next.result()))
        for drop in self._drops:
            drop.result()


@pytest.fixture(scope="session")
def postgres_template_copies() -> Iterator[TemplateCopies]:
    """The template is named per session, as other sessions may share the server."""
    template = f"mimic_template_{uuid.uuid4().hex[:12]}"
    asyncio.run(execute_as_admin(f'CREATE DATABASE "{template}"'))
    try:
        upgrade(postgres_url_for(template))
        copies = TemplateCopies(template)
        try:
            yield copies
        finally:
            copies.close()
    finally:
        asyncio.run(drop_database(template))


@pytest.fixture
def postgres_url(postgres_template_copies: TemplateCopies) -> Iterator[str]:
    """A fresh database per test, already at the head revision, dropped afterwards."""
    name = postgres_template_copies.take()
    yield postgres_url_for(name)
    postgres_template_copies.discard(name)


@pytest.fixture
async def empty_postgres_url() -> AsyncIterator[str]:
    name = f"mimic_test_{uuid.uuid4().hex[:12]}"
    await execute_as_admin(f'CREATE DATABASE "{name}"')
    yield postgres_url_for(name)
    await drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on Postgres, each database at head."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """As `database_url`, but with no tables at all: for the migration tests."""
    return str(request.getfixturevalue(f"empty_{request.param}_url"))


RECOVERY_PROPERTY = "fault recovery"  # tests/integration/faults/conftest.py sets it
recovery_times: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Here, not in the faults' conftest: a pytest-xdist controller loads only this one."""
    if report.when == "call":
        recovery_times.extend(
            str(value) for name, value in report.user_properties if name == RECOVERY_PROPERTY
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if recovery_times:
        terminalreporter.section("fault suite: recovery to the first order placed")
        for line in recovery_times:
            terminalreporter.write_line(line)


@pytest.fixture
async def redis_url() -> str:
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        service_unavailable("Redis", exc)
    finally:
        await client.aclose()
    return REDIS_URL
