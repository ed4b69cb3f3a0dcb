"""1,000 signed-in pages on one Mimic server process, and one fan-out's events reaching all.

Mimic (embedded mode: in-process worker, memory channels) serves N followers, each with an
approved paper connection and an open WebSocket signed in by its session cookie. One webhook
then fans out to all of them. S: from the webhook POST until the last page has its
`order.*` event (the fan-out itself included); D: from the first page hearing its event
until the last (the delivery alone). F: a bare Litestar app holding N WebSockets
sends each the same event, from the POST until the last page has it, in the same run.
M: the server's resident memory with the N pages open minus before they connected.
Prints last:
    live_push clients=N seconds=S floor_seconds=F ratio=S/F delivery_seconds=D
        delivery_ratio=D/F extra_mb=M
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import psutil
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.processes import seed_followers

from bench.intake import free_port, wait_until_up
from mimic.adapters.sqlalchemy import tables
from mimic.adapters.sqlalchemy.engine import create_engine
from mimic.domain.accounts import Role, User
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.security import issue_token, make_jwt_auth

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "bench-webhook-passphrase"
SECRET = "bench-jwt-secret-" + "x" * 32
EVENT = json.dumps({"kind": "order.filled", "data": {"symbol": "BTCUSDT", "intent_id": "x" * 32}})


def serve(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The server's output goes to `log`: what it said is shown if it does not start."""
    with log.open("wb") as output:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)


async def user_ids(database_url: str, account_ids: list[str]) -> list[str]:
    engine = create_engine(database_url)
    c = tables.exchange_accounts.c
    async with engine.connect() as connection:
        rows = await connection.execute(select(c.user_id).where(c.id.in_(account_ids)))
        found = [str(row[0]) for row in rows]
    await engine.dispose()
    return found


def cookies(database_url: str, ids: list[str]) -> list[str]:
    """The session cookie signing in would set, minted with the server's secret."""
    auth = make_jwt_auth(Settings(database_url=database_url, jwt_secret=SECRET))
    out = []
    for user_id in ids:
        user = User(user_id, user_id, "", "!", Role.USER, datetime.now(UTC))
        out.append(f"mimic_session={issue_token(auth, user)}")
    return out


async def open_pages(url: str, headers: list[dict[str, str]]) -> list[ClientConnection]:
    pages: list[ClientConnection] = []
    for start in range(0, len(headers), 100):  # 100 handshakes at a time
        pages += await asyncio.gather(
            *(
                connect(url, additional_headers=h, max_queue=None)
                for h in headers[start : start + 100]
            )
        )
    return pages


async def until_all_heard(
    pages: list[ClientConnection], trigger: Callable[[], Awaitable[None]], wanted: str
) -> tuple[float, float]:
    """Seconds from the trigger until the last page heard `wanted`, and from the first page
    hearing it until the last: the delivery alone, without the work that made the event."""
    heard: list[float] = []

    async def first(page: ClientConnection) -> None:
        while True:
            if json.loads(await page.recv())["kind"].startswith(wanted):
                heard.append(time.perf_counter())
                return

    waiting = [asyncio.ensure_future(first(page)) for page in pages]
    started = time.perf_counter()
    await trigger()
    await asyncio.wait_for(asyncio.gather(*waiting), timeout=300)
    return max(heard) - started, max(heard) - min(heard)


def rss_mb(process: subprocess.Popen[bytes]) -> float:
    return psutil.Process(process.pid).memory_info().rss / 1e6


async def mimic_seconds(clients: int, tmp: str) -> tuple[float, float, float]:
    database_url = f"sqlite+aiosqlite:///{tmp}/mimic.db"
    port = free_port()
    env = {
        **os.environ,
        "MIMIC_VAR_DIR": tmp,
        "MIMIC_PORT": str(port),
        "MIMIC_DATABASE_URL": database_url,
        "MIMIC_SECRET_KEY": SECRET,
        "MIMIC_WEBHOOK_PASSPHRASE": PASSPHRASE,
        "MIMIC_ADMIN_PASSWORD": "bench-admin-password",
    }
    env.pop("MIMIC_REDIS_URL", None)
    mimic = [sys.executable, "-m", "mimic.entrypoints.cli"]
    await asyncio.to_thread(
        subprocess.run, [*mimic, "migrate"], env=env, check=True, capture_output=True
    )
    engine = create_engine(database_url)
    accounts = await seed_followers(engine, clients, Decimal(10000))
    await engine.dispose()
    headers = [{"Cookie": c} for c in cookies(database_url, await user_ids(database_url, accounts))]
    log = Path(tmp) / "serve.log"
    server = serve([*mimic, "serve"], env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(base, log)
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            admin = await client.post(
                "/api/auth/login", json={"username": "admin", "password": "bench-admin-password"}
            )
            bearer = {"Authorization": f"Bearer {admin.json()['access_token']}"}
            await client.put(
                "/api/admin/paper/prices/BTCUSDT", json={"price": "65000"}, headers=bearer
            )
            before = rss_mb(server)
            pages = await open_pages(f"ws://127.0.0.1:{port}/live", headers)
            with_pages = rss_mb(server)

            async def webhook() -> None:
                response = await client.post(
                    "/webhook",
                    json={"passphrase": PASSPHRASE, "symbol": "BTCUSDT", "action": "long"},
                )
                assert response.status_code == 202, response.text

            seconds, spread = await until_all_heard(pages, webhook, "order.")
            extra = max(with_pages, rss_mb(server)) - before
            await asyncio.gather(*(page.close() for page in pages))
        return seconds, spread, extra
    finally:
        server.terminate()
        server.wait(timeout=30)


async def floor_seconds(clients: int, tmp: str) -> float:
    port = free_port()
    log = Path(tmp) / "bare.log"
    server = serve(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_live:app",
            "--port",
            str(port),
            "--ws-per-message-deflate",
            "false",  # as `mimic serve`
        ],
        {**os.environ},
        log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(base, log)
        pages = await open_pages(f"ws://127.0.0.1:{port}/live", [{} for _ in range(clients)])
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:

            async def broadcast() -> None:
                response = await client.post("/broadcast", json={"message": EVENT})
                assert response.json()["sent"] == clients, response.text

            seconds, _ = await until_all_heard(pages, broadcast, "order.")
        await asyncio.gather(*(page.close() for page in pages))
        return seconds
    finally:
        server.terminate()
        server.wait(timeout=30)


async def main(clients: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        seconds, spread, extra = await mimic_seconds(clients, tmp)
        floor = await floor_seconds(clients, tmp)
    print(
        f"live_push clients={clients} seconds={seconds:.3f} floor_seconds={floor:.3f} "
        f"ratio={seconds / floor:.2f} delivery_seconds={spread:.3f} "
        f"delivery_ratio={spread / floor:.2f} extra_mb={extra:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    asyncio.run(main(parser.parse_args().clients))
