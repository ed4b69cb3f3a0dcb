"""Webhook intake throughput against a bare Litestar endpoint, in the same run.

Each server runs as its own uvicorn process (as in production); this process is the client,
with the same httpx concurrency for both. The webhook does its real work: decode,
passphrase, validation, dedupe insert (a fresh Postgres database when Postgres answers, else
SQLite), enqueue onto Redis Streams (workers are other processes in production). Without
Redis the embedded in-process worker is used. Prints last:
    intake requests=N webhook_rps=W bare_rps=B ratio=W/B
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.services import REDIS_URL, drop_postgres, fresh_postgres, redis_answers

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "bench-passphrase-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_until_up(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(300):
            try:
                await client.get("/")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{base} did not start")


async def hammer(base: str, requests: int, concurrency: int) -> float:
    limit = asyncio.Semaphore(concurrency)
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def one(n: int) -> None:
            async with limit:
                response = await client.post(
                    "/webhook",
                    json={
                        "passphrase": PASSPHRASE,
                        "symbol": "BTCUSDT",
                        "action": "long",
                        "id": f"bench-{run}-{n}",
                    },
                )
                assert response.status_code == 202, response.text

        await asyncio.gather(*(one(-n - 1) for n in range(concurrency)))  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(requests)))
        return requests / (time.perf_counter() - started)


def serve(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def measure(
    command: list[str], env: dict[str, str], port: int, args: argparse.Namespace
) -> float:
    process = serve(command, env)
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_until_up(base)
        return await hammer(base, args.requests, args.concurrency)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def main(args: argparse.Namespace) -> None:
    redis = REDIS_URL if await redis_answers() else None
    postgres = await fresh_postgres()
    print(
        f"queue: {'redis' if redis else 'in-process'}, database: {postgres and 'postgres'}",
        file=sys.stderr,
    )
    try:
        await run(args, redis, postgres)
    finally:
        if postgres:
            await drop_postgres(postgres)


async def run(args: argparse.Namespace, redis: str | None, postgres: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "MIMIC_VAR_DIR": tmp,
            "MIMIC_PORT": str(port),
            "MIMIC_WEBHOOK_PASSPHRASE": PASSPHRASE,
            "MIMIC_ADMIN_PASSWORD": "bench-admin-password",
            "MIMIC_QUEUE_NAME": f"mimic-bench-{uuid.uuid4().hex[:8]}",
            **({"MIMIC_REDIS_URL": redis} if redis else {}),
            **({"MIMIC_DATABASE_URL": postgres} if postgres else {}),
        }
        mimic = [sys.executable, "-m", "mimic.entrypoints.cli"]
        await asyncio.to_thread(
            subprocess.run, [*mimic, "migrate"], env=env, check=True, capture_output=True
        )
        webhook_rps = await measure([*mimic, "serve"], env, port, args)
        bare_port = free_port()
        bare = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--port",
            str(bare_port),
            "--log-level",
            "info",  # the same access logging as `mimic serve`
        ]
        bare_rps = await measure(bare, env, bare_port, args)
    print(
        f"intake requests={args.requests} webhook_rps={webhook_rps:.0f} bare_rps={bare_rps:.0f} "
        f"ratio={webhook_rps / bare_rps:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    asyncio.run(main(parser.parse_args()))
