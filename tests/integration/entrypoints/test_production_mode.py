"""Postgres + Redis with separate worker and scheduler processes, as in production."""

import asyncio
import signal
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from tests.integration.harness import make_settings, running_platform
from tests.integration.processes import (
    paper_order_counts,
    production_env,
    running,
    seed_followers,
    start,
)


async def test_separate_worker_process_executes_signals(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = production_env(postgres_url, redis_url, tmp_path)
    settings = make_settings(postgres_url, redis_url=redis_url, queue_name=env["MIMIC_QUEUE_NAME"])
    async with running_platform(settings, embedded_worker=False) as api:
        alice, _ = await api.follower("alice")
        with running("worker", env, tmp_path / "worker.log"):
            opened = await api.signal(symbol="ETHUSDT", action="short", id="short-1")
            report = await api.settled_report(opened["signal_id"])
            assert [a["status"] for a in report["accounts"]] == ["filled"]
            # 10000 x 1 % x 5 / 3500 = 0.1428.. -> 0.142 ETH (step 0.001)
            positions = (await api.client.get("/api/positions", headers=api.auth(alice))).json()
            assert [(p["side"], p["quantity"]) for p in positions] == [("short", "0.142")]
        log = (tmp_path / "worker.log").read_text()
        assert "Traceback" not in log, log


@pytest.mark.parametrize("parts", [1, 2])
async def test_worker_killed_mid_fanout_places_each_order_exactly_once(
    postgres_url: str, redis_url: str, tmp_path: Path, parts: int
) -> None:
    followers = 1000
    env = production_env(
        postgres_url,
        redis_url,
        tmp_path,
        MIMIC_INTENT_LEASE_SECONDS="6",
        MIMIC_SWEEP_INTERVAL_SECONDS="1",
        MIMIC_REDIS_IDLE_TIMEOUT_SECONDS="2",
        MIMIC_PAPER_CONCURRENCY="8",
    )
    settings = make_settings(
        postgres_url, redis_url=redis_url, queue_name=env["MIMIC_QUEUE_NAME"], fanout_parts=parts
    )
    engine = create_async_engine(postgres_url)
    try:
        async with running_platform(settings, embedded_worker=False) as api:
            await seed_followers(engine, followers, Decimal(10000))
            slow = {**env, "MIMIC_PAPER_LATENCY_MS": "20"}
            first = start("worker", slow, tmp_path / "worker1.log")
            sent = await api.signal(symbol="XRPUSDT", action="long")
            deadline = time.monotonic() + 60
            while (await paper_order_counts(engine))[0] < 100:
                assert time.monotonic() < deadline, (tmp_path / "worker1.log").read_text()
                await asyncio.sleep(0.02)
            first.send_signal(signal.SIGKILL)
            first.wait()
            placed_before_restart = (await paper_order_counts(engine))[0]
            assert 100 <= placed_before_restart < followers

            with (
                running("worker", env, tmp_path / "worker2.log"),
                running("scheduler", env, tmp_path / "scheduler.log"),
            ):
                report = await api.settled_report(sent["signal_id"], within=120)
            assert report["counts"] == {"filled": followers}
            assert await paper_order_counts(engine) == (followers, followers, followers)
    finally:
        await engine.dispose()


async def test_two_workers_share_one_signal_fanned_out_in_parts(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    followers = 400
    env = production_env(postgres_url, redis_url, tmp_path)
    settings = make_settings(
        postgres_url, redis_url=redis_url, queue_name=env["MIMIC_QUEUE_NAME"], fanout_parts=2
    )
    engine = create_async_engine(postgres_url)
    try:
        async with running_platform(settings, embedded_worker=False) as api:
            await seed_followers(engine, followers, Decimal(10000))
            with (
                running("worker", env, tmp_path / "worker1.log"),
                running("worker", env, tmp_path / "worker2.log"),
            ):
                sent = await api.signal(symbol="XRPUSDT", action="long")
                report = await api.settled_report(sent["signal_id"], within=60)
            assert report["signal"]["status"] == "done"
            assert report["counts"] == {"filled": followers}
            assert await paper_order_counts(engine) == (followers, followers, followers)
        logs = (tmp_path / "worker1.log").read_text() + (tmp_path / "worker2.log").read_text()
        assert "Traceback" not in logs, logs
        for part in (0, 1):
            assert f"signal {sent['signal_id']} part {part}: {{'filled':" in logs, logs
    finally:
        await engine.dispose()


async def test_a_worker_stopped_mid_fanout_finishes_it_before_it_exits(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    followers = 300
    env = production_env(
        postgres_url,
        redis_url,
        tmp_path,
        MIMIC_PAPER_CONCURRENCY="8",
        MIMIC_PAPER_LATENCY_MS="20",  # about 0.75 s of sending: time to stop it midway
    )
    settings = make_settings(postgres_url, redis_url=redis_url, queue_name=env["MIMIC_QUEUE_NAME"])
    log = tmp_path / "worker.log"
    engine = create_async_engine(postgres_url)
    try:
        async with running_platform(settings, embedded_worker=False) as api:
            await seed_followers(engine, followers, Decimal(10000))
            worker = start("worker", env, log)
            deadline = time.monotonic() + 30
            while "worker started" not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()
                await asyncio.sleep(0.05)
            sent = await api.signal(symbol="XRPUSDT", action="long")
            while (await paper_order_counts(engine))[0] < 20:
                assert time.monotonic() < deadline, log.read_text()
                await asyncio.sleep(0.01)

            worker.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(worker.wait, 30) == 0, log.read_text()

            # No other worker ran: the stopping one sent every order before it exited.
            assert await paper_order_counts(engine) == (followers, followers, followers)
            report = await api.settled_report(sent["signal_id"], within=5)
            assert report["counts"] == {"filled": followers}
        text = log.read_text()
        assert "worker stopping" in text
        assert "worker stopped" in text
        assert "Traceback" not in text, text
    finally:
        await engine.dispose()
