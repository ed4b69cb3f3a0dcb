"""1,000 signed-in pages on one Mimic server process, and one fan-out's events reaching all.

Mimic (embedded mode: in-process worker, paper exchange, account streams on) serves N
followers, each with an approved paper connection and an open WebSocket signed in by its
session cookie. One webhook then fans out to all of them; each page waits for its own
`order.*` event. Then, in the same run, once Mimic has stopped, the floors:

- S `seconds`: from the webhook POST until the last page has its event: the fan-out (plan,
  store, 1,000 paper orders, results) and the delivery.
- V: the paper exchange alone accepting the same N orders with the same concurrency and
  nothing else (bench/fanout.py's floor); B: a bare Litestar app (bench/bare_live.py)
  holding N WebSockets sends each its own event of the same shape, from the POST until the
  last page has it. `floor_seconds` = V + B, `ratio` = S / (V + B).
- D `delivery_seconds`: from the moment Mimic published the events (the `at` each event
  carries) until the last page has its own: the live push alone. `delivery_floor_seconds`:
  the same for the bare app, from the moment it starts sending (stamped likewise).
  `delivery_ratio` = D / that floor: the ratio to a bare broadcast of the same messages
  that issue 13 names (target <= 2).
- M `extra_mb`: the server's resident memory with the N pages open minus before.

Prints last:
    live_push clients=N seconds=S floor_seconds=F ratio=S/F delivery_seconds=D
        delivery_floor_seconds=E delivery_ratio=D/E extra_mb=M
"""

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import psutil
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.processes import seed_followers

from bench.fanout import PAPER_CONCURRENCY
from bench.fanout import floor_seconds as venue_seconds
from bench.intake import free_port, wait_until_up
from mimic.adapters.sqlalchemy import tables
from mimic.adapters.sqlalchemy.engine import create_engine
from mimic.domain.accounts import Role, User
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.security import issue_token, make_jwt_auth

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "bench-webhook-passphrase"
SECRET = "bench-jwt-secret-" + "x" * 32
# The shape of Mimic's `order.filled` (application/live_updates.py): ids of 32 hex digits.
EVENT = {
    "kind": "order.filled",
    "data": {
        "intent_id": "0" * 32,
        "account_id": "1" * 32,
        "symbol": "BTCUSDT",
        "leg": "entry",
        "signal_id": "2" * 32,
    },
}


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
    """Seconds from the trigger until the last page heard `wanted`, and the longest any page
    waited for it from its publication (the `at` the event carries: same machine, same
    clock)."""
    heard: list[float] = []
    waited: list[float] = []

    async def first(page: ClientConnection) -> None:
        while True:
            event = json.loads(await page.recv())
            if event["kind"].startswith(wanted):
                heard.append(time.perf_counter())
                waited.append(time.time() - event["at"])
                return

    waiting = [asyncio.ensure_future(first(page)) for page in pages]
    with first_on_the_cpu():
        started = time.perf_counter()
        await trigger()
        await asyncio.wait_for(asyncio.gather(*waiting), timeout=300)
    return max(heard) - started, max(waited)


@contextlib.contextmanager
def first_on_the_cpu() -> Iterator[None]:
    """The pages stand for browsers on other machines. On this one they share two cores with
    the server: while they wait, they come first (when allowed), in Mimic's run as in the
    bare one's, so the work a server does after sending does not slow their reading."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    except PermissionError:
        print("not run first on the CPU (needs root)", file=sys.stderr)
    try:
        yield
    finally:
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, 0, before)


def rss_mb(process: subprocess.Popen[bytes]) -> float:
    return float(psutil.Process(process.pid).memory_info().rss) / 1e6


async def mimic_seconds(
    clients: int, tmp: str, database_url: str
) -> tuple[float, float, float, list[str]]:
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

            seconds, delivery = await until_all_heard(pages, webhook, "order.")
            extra = max(with_pages, rss_mb(server)) - before
            await asyncio.gather(*(page.close() for page in pages))
        return seconds, delivery, extra, accounts
    finally:
        server.terminate()
        server.wait(timeout=30)


async def bare_seconds(clients: int, tmp: str) -> tuple[float, float]:
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
                response = await client.post("/broadcast", json={"event": EVENT})
                assert response.json()["sent"] == clients, response.text

            seconds, delivery = await until_all_heard(pages, broadcast, "order.")
        await asyncio.gather(*(page.close() for page in pages))
        return seconds, delivery
    finally:
        server.terminate()
        server.wait(timeout=30)


async def main(clients: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite+aiosqlite:///{tmp}/mimic.db"
        seconds, delivery, extra, accounts = await mimic_seconds(clients, tmp, database_url)
        venue = await venue_seconds(database_url, accounts, PAPER_CONCURRENCY)
        bare, bare_delivery = await bare_seconds(clients, tmp)
    floor = venue + bare
    print(
        f"floors: paper exchange alone {venue:.3f} s, bare broadcast {bare:.3f} s",
        file=sys.stderr,
    )
    print(
        f"live_push clients={clients} seconds={seconds:.3f} floor_seconds={floor:.3f} "
        f"ratio={seconds / floor:.2f} delivery_seconds={delivery:.3f} "
        f"delivery_floor_seconds={bare_delivery:.3f} "
        f"delivery_ratio={delivery / bare_delivery:.2f} extra_mb={extra:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    asyncio.run(main(parser.parse_args().clients))
