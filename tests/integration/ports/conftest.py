"""One `store` per backend: the in-memory fakes, SQL on SQLite, SQL on Postgres.

Every test below this folder (one folder per port module, one module per port) runs once
on each, so the fakes the unit tests lean on are held to the contract the SQL adapters keep
in production. A test works in units of work:
`async with store.unit() as repos:` hands out the repositories of one transaction, committed
when the block ends without an error (the fakes have nothing to commit). Postgres skips with
a message when it is not there, and fails the run with MIMIC_TEST_REQUIRE_SERVICES=1
(tests/conftest.py).
"""

from collections.abc import AsyncIterator

import pytest

from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.domain.accounts import SignalSource
from tests.integration.ports.rows import SOURCE_ID
from tests.integration.ports.stores import FakeStore, SqlStore, Store


@pytest.fixture(params=["fake", "sqlite", "postgres"])
def backend_url(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """The backend's name and, for SQL, a fresh database at head (Postgres may skip)."""
    if request.param == "fake":
        return "fake", None
    return request.param, str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def store(backend_url: tuple[str, str | None]) -> AsyncIterator[Store]:
    name, url = backend_url
    engine = None if url is None else create_engine(url)
    store: Store = FakeStore() if engine is None else SqlStore(name, create_session_factory(engine))
    async with store.unit() as repos:  # the source every signal of these tests comes from
        await repos.sources.add(SignalSource(SOURCE_ID, "master", "hash"))
    try:
        yield store
    finally:
        if engine is not None:
            await engine.dispose()
