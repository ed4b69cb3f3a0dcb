"""A fresh worker opens its database connections before it takes its first job."""

from sqlalchemy.ext.asyncio import AsyncEngine
from taskiq import InMemoryBroker

from mimic.entrypoints.ioc.root import build_container
from mimic.entrypoints.worker.warmup import WARM_CONNECTIONS, warm_up
from tests.integration.harness import make_settings


async def test_warm_up_leaves_the_connections_of_a_fan_out_open_in_the_pool(
    database_url: str,
) -> None:
    container = build_container(make_settings(database_url), InMemoryBroker())
    try:
        engine = await container.get(AsyncEngine)
        assert engine.pool.checkedin() == 0

        await warm_up(container)

        # As many as the pool keeps (Postgres: 20; SQLite: SQLAlchemy's default of 5).
        assert engine.pool.checkedin() == min(WARM_CONNECTIONS, engine.pool.size())  # type: ignore[attr-defined]
    finally:
        await container.close()
