"""Production mode: the scheduler kicks the subscription expiry job, a worker runs it."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from mimic.adapters.sqlalchemy.tables import notification_outbox, subscriptions, users
from tests.integration.harness import migrate
from tests.integration.processes import production_env, running


async def test_scheduler_and_worker_send_the_expiring_notice(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    await migrate(postgres_url)
    now = datetime.now(UTC)
    expires = now + timedelta(days=1)
    engine = create_async_engine(postgres_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                users.insert().values(
                    id="u" * 32,
                    username="alice",
                    email="alice@example.com",
                    password_hash="x",
                    role="user",
                    active=True,
                    paused=False,
                    created_at=now,
                )
            )
            await connection.execute(
                subscriptions.insert().values(
                    user_id="u" * 32, plan_name="Pro", started_at=now, expires_at=expires
                )
            )
        env = production_env(
            postgres_url, redis_url, tmp_path, MIMIC_SUBSCRIPTION_CHECK_SECONDS="1"
        )
        query = select(subscriptions.c.expiring_notice_for)
        with (
            running("worker", env, tmp_path / "worker.log"),
            running("scheduler", env, tmp_path / "scheduler.log"),
        ):
            deadline = time.monotonic() + 60
            while True:
                async with engine.connect() as connection:
                    noticed = (await connection.execute(query)).scalar_one()
                if noticed is not None:
                    break
                assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
                await asyncio.sleep(0.1)
        assert noticed == expires
        async with engine.connect() as connection:
            events = (await connection.execute(select(notification_outbox.c.event))).scalars()
            assert list(events) == ["subscription.expiring"]
        log = (tmp_path / "worker.log").read_text()
        assert "Traceback" not in log, log
    finally:
        await engine.dispose()
