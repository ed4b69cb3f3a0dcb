"""Real `mimic` processes (worker, scheduler) for the production-mode tests."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from mimic.adapters.sqlalchemy import tables


def production_env(
    database_url: str, redis_url: str, var_dir: Path, **extra: str
) -> dict[str, str]:
    env = {
        **os.environ,
        "MIMIC_DATABASE_URL": database_url,
        "MIMIC_REDIS_URL": redis_url,
        "MIMIC_QUEUE_NAME": f"mimic-test-{uuid.uuid4().hex[:8]}",
        "MIMIC_SECRET_KEY": "jwt-secret-for-tests-" + "x" * 32,
        "MIMIC_VAR_DIR": str(var_dir),
    }
    env.update(extra)
    return env


def start(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "mimic.entrypoints.cli", command],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


@contextmanager
def running(command: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = start(command, env, log)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def seed_followers(engine: AsyncEngine, count: int, balance: Decimal) -> list[str]:
    """Approved paper followers written in bulk (HTTP sign-up of 1,000 people is not the test)."""
    now = datetime.now(UTC)
    users, accounts, papers = [], [], []
    for n in range(count):
        user_id, account_id = uuid.uuid4().hex, uuid.uuid4().hex
        users.append(
            {
                "id": user_id,
                "username": f"follower{n}",
                "email": f"follower{n}@example.com",
                "password_hash": "!",  # no password: these accounts cannot log in
                "role": "user",
                "active": True,
                "paused": False,
                "created_at": now,
            }
        )
        accounts.append(
            {
                "id": account_id,
                "user_id": user_id,
                "exchange": "paper",
                "label": "paper",
                "status": "approved",
                "enabled": True,
                "created_at": now,
            }
        )
        papers.append({"account_id": account_id, "currency": "USDT", "wallet_balance": balance})
    async with engine.begin() as connection:
        await connection.execute(insert(tables.users), users)
        await connection.execute(insert(tables.exchange_accounts), accounts)
        await connection.execute(insert(tables.paper_accounts), papers)
    return [a["id"] for a in accounts]


async def paper_order_counts(engine: AsyncEngine) -> tuple[int, int, int]:
    """(orders, distinct client order ids, distinct accounts) on the paper exchange."""
    query = select(
        func.count(),
        func.count(tables.paper_orders.c.client_order_id.distinct()),
        func.count(tables.paper_orders.c.account_id.distinct()),
    )
    async with engine.connect() as connection:
        row = (await connection.execute(query)).one()
    return int(row[0]), int(row[1]), int(row[2])
