"""Postgres + Redis with real worker and scheduler processes: a trailing stop whose worker
is killed in the middle still closes the position, once."""

import asyncio
import json
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from mimic.adapters.sqlalchemy import tables
from tests.integration.harness import Api, make_settings, running_platform
from tests.integration.processes import production_env, running, start

TRAILING = {"enabled": True, "activation_perc": "2", "callback_perc": "1"}


async def wait_for(check: Any, what: str, within: float = 90.0) -> Any:
    deadline = time.monotonic() + within
    while not (result := await check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)
    return result


def rounds_started(log: Path) -> int:
    return log.read_text().count("Executing task mimic.monitor_positions")


async def monitor_rounds(log: Path, count: int) -> None:
    """Waits until `count` more rounds of the position monitor started in that worker's
    log: the first of them has had a whole interval to finish when the last starts."""
    target = rounds_started(log) + count

    async def started() -> bool:
        return rounds_started(log) >= target

    await wait_for(started, f"{count} rounds of the position monitor")


async def test_worker_killed_mid_trailing_stop_the_next_one_closes_once(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:trailing:"
    env = production_env(
        postgres_url,
        redis_url,
        tmp_path,
        MIMIC_MONITOR_INTERVAL_SECONDS="1",
        MIMIC_TRAILING_KEY_PREFIX=prefix,
        MIMIC_REDIS_IDLE_TIMEOUT_SECONDS="2",
    )
    settings = make_settings(postgres_url, redis_url=redis_url, queue_name=env["MIMIC_QUEUE_NAME"])
    redis = Redis.from_url(redis_url)
    engine = create_async_engine(postgres_url)

    async def stop_price() -> str | None:
        keys = await redis.keys(prefix + "*")
        if len(keys) != 1:
            return None
        raw = await redis.get(keys[0])
        return None if raw is None else json.loads(raw)["stop_price"]

    async def trailing_closes(api: Api, token: str) -> list[dict[str, Any]]:
        response = await api.client.get("/api/orders", headers=api.auth(token))
        return [o for o in response.json() if o["leg"] == "trailing_stop"]

    try:
        async with running_platform(settings, embedded_worker=False) as api:
            await api.set_price("BTCUSDT", "65000")
            alice, account = await api.follower("alice", trailing=TRAILING)
            first = start("worker", env, tmp_path / "worker1.log")
            with running("scheduler", env, tmp_path / "scheduler.log"):
                sent = await api.signal(symbol="BTCUSDT", action="long")
                await api.settled_report(sent["signal_id"], within=90)
                await api.set_price("BTCUSDT", "67000")
                # activated at 66300: the stop is 67000 x 0.99, kept in Redis
                assert await wait_for(stop_price, "the stop in Redis") == "66330.00"
                first.send_signal(signal.SIGKILL)
                first.wait()
                with running("worker", env, tmp_path / "worker2.log"):
                    await api.set_price("BTCUSDT", "66400")  # above the stop it knew
                    await monitor_rounds(tmp_path / "worker2.log", 3)
                    assert await trailing_closes(api, alice) == []
                    await api.set_price("BTCUSDT", "66300")
                    closes = await wait_for(
                        lambda: trailing_closes(api, alice), "the trailing close"
                    )
                    await monitor_rounds(tmp_path / "worker2.log", 3)  # change nothing
            closes = await trailing_closes(api, alice)
            assert [(c["status"], c["average_price"]) for c in closes] == [("filled", "66300")]
            positions = await api.client.get("/api/positions", headers=api.auth(alice))
            assert positions.json() == []
        async with engine.connect() as connection:
            o = tables.paper_orders.c
            rows = await connection.execute(
                select(o.client_order_id).where(o.account_id == account, o.reduce_only)
            )
            assert [r.client_order_id for r in rows] == [closes[0]["client_order_id"]]
        for log in ("worker1.log", "worker2.log", "scheduler.log"):
            text = (tmp_path / log).read_text()
            assert "Traceback" not in text, text
    finally:
        await engine.dispose()
        await redis.aclose()
