"""The services the benchmarks use: throwaway Postgres databases and Redis, on the same
servers the tests use."""

import os
import uuid

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError

POSTGRES_DSN = os.environ.get(
    "MIMIC_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = "redis://127.0.0.1:6379/0"


async def redis_answers(url: str = REDIS_URL) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
        return True
    except (OSError, RedisError):
        return False
    finally:
        await client.aclose()


async def fresh_postgres() -> str | None:
    name = f"mimic_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = await asyncpg.connect(POSTGRES_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return POSTGRES_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + (
        f"/{name}"
    )


async def drop_postgres(url: str) -> None:
    admin = await asyncpg.connect(POSTGRES_DSN, timeout=3)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()
