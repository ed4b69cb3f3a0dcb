"""Service fixtures: real SQLite always; real Postgres and Redis when they answer.

Locally a missing service skips its tests with a message; with
MIMIC_TEST_REQUIRE_SERVICES=1 (as .ci/run sets) it fails them instead.
"""

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

REQUIRE_SERVICES = os.environ.get("MIMIC_TEST_REQUIRE_SERVICES") == "1"
POSTGRES_DSN = os.environ.get(
    "MIMIC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("MIMIC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def service_unavailable(name: str, error: BaseException) -> None:
    message = f"{name} is not available ({error!r})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; MIMIC_TEST_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(f"{message}; set MIMIC_TEST_REQUIRE_SERVICES=1 to fail instead of skipping")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'mimic.db'}"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty database per test, dropped afterwards."""
    name = f"mimic_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        service_unavailable("Postgres", exc)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    yield f"{base}/{name}"
    admin = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on Postgres."""
    return str(request.getfixturevalue(f"{request.param}_url"))


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
