"""Webhook intake throughput against a bare Litestar endpoint, in the same run.

Both are served by uvicorn on loopback and hit by the same httpx client with the same
concurrency. The webhook does its real work: decode, passphrase, validation, dedupe insert
in SQLite, enqueue onto Redis Streams as in production, where workers are other processes
(without Redis: the embedded in-process worker, which then competes for the CPU). Prints last:
    intake requests=N webhook_rps=W bare_rps=B ratio=W/B
"""

import argparse
import asyncio
import contextlib
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from litestar import Litestar, post
from redis.asyncio import Redis
from redis.exceptions import RedisError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.harness import (
    PASSPHRASE,
    CheapHasherProvider,
    make_settings,
    migrate,
)

from mimic.entrypoints.cli import bootstrap
from mimic.entrypoints.http.app import create_app

REDIS_URL = "redis://127.0.0.1:6379/0"


@post("/webhook", status_code=202)
async def bare_webhook(data: dict[str, Any]) -> dict[str, Any]:
    return {"signal_id": "x", "duplicate": False}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def hammer(base: str, requests: int, concurrency: int) -> float:
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def one(n: int) -> None:
            async with limit:
                response = await client.post(
                    "/webhook",
                    json={
                        "passphrase": PASSPHRASE,
                        "symbol": "BTCUSDT",
                        "action": "long",
                        "id": f"bench-{n}",
                    },
                )
                assert response.status_code == 202, response.text

        await one(-1)  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(requests)))
        return requests / (time.perf_counter() - started)


async def redis_url() -> str | None:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, RedisError):
        return None
    finally:
        await client.aclose()
    return REDIS_URL


async def main(requests: int, concurrency: int) -> None:
    redis = await redis_url()
    print(f"queue: {'redis' if redis else 'in-process'}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(
            f"sqlite+aiosqlite:///{tmp}/intake.db",
            redis_url=redis,
            queue_name=f"mimic-bench-{uuid.uuid4().hex[:8]}",
        )
        await migrate(settings.database_url)
        await bootstrap(settings)
        app = create_app(settings, CheapHasherProvider())
        async with serving(app) as base:
            webhook_rps = await hammer(base, requests, concurrency)
        async with serving(Litestar(route_handlers=[bare_webhook])) as base:
            bare_rps = await hammer(base, requests, concurrency)
    print(
        f"intake requests={requests} webhook_rps={webhook_rps:.0f} bare_rps={bare_rps:.0f} "
        f"ratio={webhook_rps / bare_rps:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency))
