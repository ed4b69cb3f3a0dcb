"""The queue in production: housekeeping has its own stream, and workers carry on when
Redis comes back empty (issue 15, failure 2), with no restart."""

import asyncio
import uuid
from pathlib import Path

import redis.asyncio as aioredis
from taskiq import AckableMessage
from taskiq.kicker import AsyncKicker

from mimic.adapters.taskiq_queue import EXECUTE_SIGNAL_TASK
from mimic.entrypoints.worker.tasks import (
    KEEPALIVE_TASK,
    MONITOR_TASK,
    SWEEP_TASK,
    create_broker,
    create_housekeeping_listener,
    housekeeping_stream,
)
from tests.integration.harness import make_settings
from tests.integration.private_redis import platform_on_private_redis, private_redis
from tests.stubs.smtp import free_port

READ_DEADLINE_SECONDS = 10.0


async def _next(messages: object) -> AckableMessage:
    message = await asyncio.wait_for(anext(messages), READ_DEADLINE_SECONDS)  # type: ignore[call-overload]
    assert isinstance(message, AckableMessage)
    return message


async def test_housekeeping_is_read_from_its_own_stream_past_a_backlog_of_signals(
    redis_url: str,
) -> None:
    settings = make_settings(
        "sqlite+aiosqlite://", redis_url=redis_url, queue_name=f"mimic-test-{uuid.uuid4().hex}"
    )
    broker, housekeeping = create_broker(settings), create_housekeeping_listener(settings)
    client = aioredis.Redis.from_url(redis_url)
    try:
        for listened in (broker, housekeeping):
            await listened.startup()
        for n in range(50):  # a burst no worker has taken yet
            await AsyncKicker(EXECUTE_SIGNAL_TASK, broker, labels={}).kiq(f"signal-{n}", 0)
        await AsyncKicker(SWEEP_TASK, broker, labels={}).kiq()
        await AsyncKicker(MONITOR_TASK, broker, labels={}).kiq()
        # The scheduler's keep-alive names its stream, so that each stream gets one.
        keepalive = {"queue_name": settings.queue_name}
        await AsyncKicker(KEEPALIVE_TASK, broker, labels=keepalive).kiq()

        assert await client.xlen(settings.queue_name) == 51
        assert await client.xlen(housekeeping_stream(settings)) == 2
        first = await _next(housekeeping.listen())
        assert SWEEP_TASK.encode() in first.data
    finally:
        for listened in (broker, housekeeping):
            await listened.shutdown()
        await client.delete(settings.queue_name, housekeeping_stream(settings))
        await client.aclose()


async def test_a_listener_creates_its_consumer_group_again_after_a_flushall(
    tmp_path: Path,
) -> None:
    with private_redis(tmp_path) as redis:
        settings = make_settings("sqlite+aiosqlite://", redis_url=redis.url)
        broker = create_broker(settings)
        client = aioredis.Redis.from_url(redis.url)
        try:
            await broker.startup()
            messages = broker.listen()
            await AsyncKicker(EXECUTE_SIGNAL_TASK, broker, labels={}).kiq("before", 0)
            assert b"before" in (await _next(messages)).data

            await client.flushall()  # this server is the test's own
            await AsyncKicker(EXECUTE_SIGNAL_TASK, broker, labels={}).kiq("after", 0)

            # Queued before the group came back: read all the same.
            assert b"after" in (await _next(messages)).data
            assert await client.xinfo_groups(settings.queue_name)
        finally:
            await broker.shutdown()
            await client.aclose()


async def test_signals_run_when_redis_comes_back_empty_without_restarting_anything(
    postgres_url: str, tmp_path: Path
) -> None:
    async with platform_on_private_redis(postgres_url, tmp_path) as (api, redis):
        before = await api.signal(symbol="ETHUSDT", action="long", id="before")
        await api.settled_report(before["signal_id"])

        flusher = aioredis.Redis.from_url(redis.url)
        await flusher.flushall()
        await flusher.aclose()
        flushed = await api.signal(symbol="ETHUSDT", action="close", id="flushed")
        report = await api.settled_report(flushed["signal_id"], within=20)
        assert [a["status"] for a in report["accounts"]] == ["filled"]

        redis.kill()
        # Acknowledged while Redis is down: its enqueue fails, the sweeper runs it.
        lost = await api.signal(symbol="BTCUSDT", action="long", id="while-down")
        redis.start()
        report = await api.settled_report(lost["signal_id"], within=30)
        assert [a["status"] for a in report["accounts"]] == ["filled"]
        log = (tmp_path / "worker.log").read_text()
        assert "creating it again" in log, log


async def test_a_process_starts_while_redis_is_down() -> None:
    settings = make_settings("sqlite+aiosqlite://", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    broker = create_broker(settings)
    await broker.startup()  # the group is created by the first reader once Redis answers
    await broker.shutdown()
