"""Webhook intake throughput against a bare Litestar endpoint, in the same run.

Both are served by uvicorn on loopback and hit by the same httpx client with the same
concurrency. The webhook does its real work: decode, passphrase, validation, dedupe insert
in SQLite, enqueue. Prints last:
    intake requests=N webhook_rps=W bare_rps=B ratio=W/B
"""

import argparse
import asyncio
import contextlib
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from litestar import Litestar, post

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.harness import (
    PASSPHRASE,
    CheapHasherProvider,
    make_settings,
    migrate,
)

from mimic.entrypoints.cli import bootstrap
from mimic.entrypoints.http.app import create_app


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


async def main(requests: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(f"sqlite+aiosqlite:///{tmp}/intake.db")
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
