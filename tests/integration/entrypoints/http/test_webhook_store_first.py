"""The webhook stores the alert before anything waits on Redis and answers in time whatever
Redis does (issue 15, failure 3); with the database down it answers 503, never 202."""

import time
from datetime import timedelta
from pathlib import Path

import redis.asyncio as aioredis
from litestar.testing import AsyncTestClient

from mimic.adapters.rate_limit import RedisRateLimiter
from mimic.entrypoints.http.app import create_app
from tests.integration.harness import (
    FOLLOWER_PASSWORD,
    PASSPHRASE,
    make_settings,
)
from tests.integration.private_redis import platform_on_private_redis, private_redis
from tests.stubs.smtp import free_port

# TradingView gives up after 3 s; the webhook must answer well inside it.
ANSWER_WITHIN_SECONDS = 1.0


async def test_a_hung_redis_neither_delays_the_webhook_nor_loses_the_alert(
    postgres_url: str, tmp_path: Path
) -> None:
    async with platform_on_private_redis(postgres_url, tmp_path) as (api, redis):
        redis.pause()
        try:
            started = time.monotonic()
            response = await api.client.post(
                "/webhook",
                json={"passphrase": PASSPHRASE, "symbol": "ETHUSDT", "action": "long"},
            )
            answered_in = time.monotonic() - started
            assert response.status_code == 202, response.text
            assert answered_in < ANSWER_WITHIN_SECONDS, answered_in
            signal_id = response.json()["signal_id"]
            stored = await api.client.get(
                f"/api/signals/{signal_id}", headers=api.auth(api.admin_token)
            )
            assert stored.status_code == 200, stored.text

            # Sign-in's rate limits fail open as fast.
            started = time.monotonic()
            await api.login("alice", FOLLOWER_PASSWORD)
            assert time.monotonic() - started < ANSWER_WITHIN_SECONDS
        finally:
            redis.resume()
        report = await api.settled_report(signal_id, within=30)
        assert [a["status"] for a in report["accounts"]] == ["filled"]


async def test_the_redis_rate_limiter_fails_open_when_redis_hangs(tmp_path: Path) -> None:
    with private_redis(tmp_path) as redis:
        client = aioredis.Redis.from_url(redis.url)
        limiter = RedisRateLimiter(client, "mimic-test:")
        try:
            assert await limiter.hit("login:ip:x", 1, timedelta(minutes=1)) is None
            assert await limiter.hit("login:ip:x", 1, timedelta(minutes=1)) is not None
            redis.pause()
            started = time.monotonic()
            assert await limiter.hit("login:ip:x", 1, timedelta(minutes=1)) is None
            assert time.monotonic() - started < 0.5  # its bound is 100 ms
        finally:
            redis.resume()
            await client.aclose()


async def test_the_webhook_answers_503_when_the_database_is_down() -> None:
    unreachable = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/mimic"
    app = create_app(make_settings(unreachable), embedded_worker=False)
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/webhook", json={"passphrase": PASSPHRASE, "symbol": "ETHUSDT", "action": "long"}
        )
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert "send it again" in response.json()["detail"]
