"""Real `mimic` processes (worker, scheduler) for the production-mode tests."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from mimic.adapters.sqlalchemy import tables
from mimic.domain.accounts import ApiCredentials
from mimic.ports.credentials import SecretBox


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


def start(
    command: str, env: dict[str, str], log: Path, *, own_session: bool = False
) -> subprocess.Popen[bytes]:
    """In a process group of its own: a signal meant for the test never reaches it. With
    `own_session`, in a session of its own too, as a service runs (the OS schedules each
    session as one entity: MIMIC_WORKER_NICE lowers a worker's)."""
    with log.open("ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "mimic.entrypoints.cli", command],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            process_group=None if own_session else 0,
            start_new_session=own_session,
        )


@contextmanager
def running(
    command: str, env: dict[str, str], log: Path, *, own_session: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    process = start(command, env, log, own_session=own_session)
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _follower_rows(username: str, exchange: str, now: datetime) -> tuple[dict[str, Any], ...]:
    user_id, account_id = uuid.uuid4().hex, uuid.uuid4().hex
    user = {
        "id": user_id,
        "username": username,
        "email": f"{username}@example.com",
        "password_hash": "!",  # no password: these accounts cannot log in
        "role": "user",
        "active": True,
        "paused": False,
        "created_at": now,
    }
    account = {
        "id": account_id,
        "user_id": user_id,
        "exchange": exchange,
        "label": exchange,
        "status": "approved",
        "enabled": True,
        "created_at": now,
    }
    return user, account


async def seed_followers(engine: AsyncEngine, count: int, balance: Decimal) -> list[str]:
    """Approved paper followers written in bulk (HTTP sign-up of 1,000 people is not the test)."""
    now = datetime.now(UTC)
    rows = [_follower_rows(f"follower{n}", "paper", now) for n in range(count)]
    papers = [
        {"account_id": account["id"], "currency": "USDT", "wallet_balance": balance}
        for _, account in rows
    ]
    async with engine.begin() as connection:
        await connection.execute(insert(tables.users), [user for user, _ in rows])
        await connection.execute(insert(tables.exchange_accounts), [a for _, a in rows])
        await connection.execute(insert(tables.paper_accounts), papers)
    return [account["id"] for _, account in rows]


async def seed_stub_followers(
    engine: AsyncEngine, credentials: Sequence[ApiCredentials], box: SecretBox
) -> list[str]:
    """Approved binanceusdm followers, their API keys sealed as the app stores them."""
    now = datetime.now(UTC)
    rows = [
        _follower_rows(f"stub-follower{n}", "binanceusdm", now) for n in range(len(credentials))
    ]
    for (user, account), keys in zip(rows, credentials, strict=True):
        account["credentials_token"] = box.seal(keys, user_id=user["id"], account_id=account["id"])
        account["api_key_masked"] = keys.api_key[:4] + "..."
        account["validation_status"] = "valid"
    async with engine.begin() as connection:
        await connection.execute(insert(tables.users), [user for user, _ in rows])
        await connection.execute(insert(tables.exchange_accounts), [a for _, a in rows])
    return [account["id"] for _, account in rows]


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
