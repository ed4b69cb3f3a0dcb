"""Webhook intake in production mode, driven by wrk, against its durable floor in the same run.

The load comes from `wrk` (C, one thread), so the client is never what saturates: a Python
client tops out near 650 requests/s here and would measure itself. Each request is an alert
with a unique `id` (bench/unique_ids.lua), so every one is stored and enqueued.

1. `mimic serve` (one process; Postgres, Redis): requests/s, p99, and the server's CPU per
   request, with the 32 connections sending as fast as they are answered; then the p99 of
   the same connections paced to --paced-rps. Saturated, a closed loop's latency is its
   queue: connections / requests-per-second by Little's law (32 / 800 = 40 ms), whatever
   a request costs; the paced p99 is the latency an alert meets below capacity.
   cpu_ratio is the floor's server CPU per request over the webhook's: on a busy machine
   the two runs get different shares of a core, which moves the requests/s ratio but not
   what a request costs.
2. The durable floor (bench/durable_floor.py): decode, one INSERT, one XADD, served the same
   way. Its requests/s is the ratio's denominator; its paced p99 is the tail of the durable
   work alone (the commit's WAL flush, the two round trips, the wait for a core).
3. Unless --fanout-followers 0: the webhook's p99 while 10,000-follower fan-outs run back
   to back in two `mimic worker` processes on the same database, each in a session of its
   own as a service is (the webhook's own signals go to a queue no worker reads, so they add
   no fan-outs of their own), at --worker-nice (MIMIC_WORKER_NICE).

Prints last:
    intake webhook_rps=W durable_floor_rps=F ratio=W/F cpu_ratio=C p99_ms=P paced_rps=N
    paced_p99_ms=Q floor_paced_p99_ms=R fanout_p99_ms=S fanout_paced_p99_ms=T ...
    server_cpu_ms=Sc db_cpu_ms=D floor_db_cpu_ms=Fd
(Sc: the server's CPU per alert, saturated; D and Fd: that of the Postgres backends of the
bench's database, the webhook's and the floor's, saturated.)
"""

import argparse
import asyncio
import contextlib
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import psutil
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.processes import seed_followers

from bench.fanout import worker_processes
from bench.services import REDIS_URL, drop_postgres, fresh_postgres, redis_answers
from mimic.adapters.sqlalchemy.engine import create_engine

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "bench-passphrase-0123456789"
ADMIN_PASSWORD = "bench-admin-password"
WRK_LINE = re.compile(
    r"wrk requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) errors=(\d+)"
)


@dataclass(frozen=True)
class Load:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    wrk_cpu_ms_per_request: float
    db_cpu_ms_per_request: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("bench/intake.py needs wrk: apt-get install -y wrk (make bench does)")
    return found


@contextlib.contextmanager
def serving(command: list[str], env: dict[str, str], log: Path) -> Iterator[psutil.Process]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield psutil.Process(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def wait_until_up(base: str, log: Path) -> None:
    """Until the server answers anything at all over HTTP."""
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            try:
                await client.get("/health")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    said = await asyncio.to_thread(log.read_text)
    raise SystemExit(f"{base} did not start:\n{said}")


async def wrk(
    base: str,
    seconds: float,
    connections: int,
    server: psutil.Process,
    database: str,
    pause_ms: int = 0,
) -> Load:
    """One wrk run (each connection pausing `pause_ms` before each request, if given); the
    server's CPU, and that of the Postgres backends of `database`, are read around it."""
    run = uuid.uuid4().hex[:10]
    script = str(ROOT / "bench" / "unique_ids.lua")
    command = [wrk_binary(), "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "10s"]
    cpu_before = sum(server.cpu_times()[:2])
    wrk_before = _children_cpu()
    db_before = _backends_cpu(database)
    result = await asyncio.to_thread(
        subprocess.run,
        [*command, "-s", script, f"{base}/webhook", "--", run, PASSPHRASE, str(pause_ms)],
        capture_output=True,
        text=True,
        check=True,
    )
    cpu = sum(server.cpu_times()[:2]) - cpu_before
    wrk_cpu = _children_cpu() - wrk_before
    db_after = _backends_cpu(database)
    db_cpu = sum(cpu - db_before.get(pid, 0.0) for pid, cpu in db_after.items())
    match = WRK_LINE.search(result.stdout)
    if match is None:
        raise SystemExit(f"wrk said:\n{result.stdout}\n{result.stderr}")
    requests, duration_us, p50_us, p99_us, errors = map(int, match.groups())
    if errors:
        raise SystemExit(f"{errors} of {requests} requests failed:\n{result.stdout}")
    return Load(
        requests=requests,
        rps=requests / (duration_us / 1e6),
        p50_ms=p50_us / 1000,
        p99_ms=p99_us / 1000,
        cpu_ms_per_request=cpu * 1000 / requests,
        wrk_cpu_ms_per_request=wrk_cpu * 1000 / requests,
        db_cpu_ms_per_request=db_cpu * 1000 / requests,
    )


def _backends_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each Postgres backend connected to `database` (its process title
    names it), by pid: what storing the alerts cost the database, commits included, beside
    the server's own CPU. (Postgres's shared WAL writer and checkpointer are not counted.)"""
    found: dict[int, float] = {}
    for process in psutil.process_iter(["username", "cmdline"]):
        title = " ".join(process.info["cmdline"] or ())
        if process.info["username"] == "postgres" and f" {database} " in title:
            with contextlib.suppress(psutil.Error):
                found[process.pid] = sum(process.cpu_times()[:2])
    return found


def _children_cpu() -> float:
    """CPU seconds of the waited-for children: wrk's, as it is the only one run meanwhile."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Measured:
    saturated: Load
    paced: Load
    answered: int  # every run's, warm-up included


async def measured(
    base: str, args: argparse.Namespace, server: psutil.Process, database_url: str
) -> Measured:
    database = database_url.rsplit("/", 1)[1]
    warm_up = await wrk(base, 2, args.connections, server, database)  # connections, caches
    load = await wrk(base, args.seconds, args.connections, server, database)
    pause_ms = round(args.connections * 1000 / args.paced_rps)
    at_pace = await wrk(base, args.seconds, args.connections, server, database, pause_ms)
    answered = warm_up.requests + load.requests + at_pace.requests
    return Measured(load, at_pace, answered)


def mimic_env(database_url: str, var_dir: str, port: int, queue: str) -> dict[str, str]:
    return {
        **os.environ,
        "MIMIC_VAR_DIR": var_dir,
        "MIMIC_PORT": str(port),
        "MIMIC_WEBHOOK_PASSPHRASE": PASSPHRASE,
        "MIMIC_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MIMIC_QUEUE_NAME": queue,
        "MIMIC_REDIS_URL": REDIS_URL,
        "MIMIC_DATABASE_URL": database_url,
        # The limit is still counted on every request; one sender at thousands a second
        # would only be over the default's 20,000 a minute.
        "MIMIC_RATE_WEBHOOK_PER_IP": "10000000/60",
    }


MIMIC = [sys.executable, "-m", "mimic.entrypoints.cli"]


async def webhook_load(url: str, var_dir: str, args: argparse.Namespace) -> Measured:
    port = free_port()
    queue = f"mimic-bench-unread-{uuid.uuid4().hex[:8]}"
    env = mimic_env(url, var_dir, port, queue)
    log = Path(var_dir) / "serve.log"
    stored_before = await stored_alerts(url)
    with serving([*MIMIC, "serve"], env, log) as server:
        await wait_until_up(f"http://127.0.0.1:{port}", log)
        try:
            load = await measured(f"http://127.0.0.1:{port}", args, server, url)
        except SystemExit:
            said = await asyncio.to_thread(log.read_text)
            print(f"mimic serve said, last:\n{said[-3000:]}", file=sys.stderr)
            raise
    # Every answered alert was new (202) and is stored and enqueued; more may be, that
    # wrk sent but stopped waiting for.
    stored = await stored_alerts(url) - stored_before
    enqueued = await queued(queue)
    answered = load.answered
    print(f"answered {answered}, stored {stored}, enqueued {enqueued}", file=sys.stderr)
    if not (stored == enqueued >= answered):
        raise SystemExit(f"{answered} answered but {stored} stored and {enqueued} enqueued")
    return load


async def stored_alerts(url: str) -> int:
    """Signals of wrk's alerts (its symbol; the fan-outs trade another)."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(
            await connection.fetchval("SELECT count(*) FROM signals WHERE symbol = 'BTCUSDT'")
        )
    finally:
        await connection.close()


async def queued(stream: str) -> int:
    client = Redis.from_url(REDIS_URL)
    try:
        return int(await client.xlen(stream))
    finally:
        await client.aclose()


async def floor_load(url: str, var_dir: str, args: argparse.Namespace) -> Measured:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "CREATE TABLE floor_signals (id text PRIMARY KEY, dedupe_key text UNIQUE, body bytea)"
        )
    finally:
        await connection.close()
    port = free_port()
    env = {
        **os.environ,
        "BENCH_FLOOR_DSN": dsn,
        "BENCH_FLOOR_REDIS": REDIS_URL,
        "BENCH_FLOOR_STREAM": f"mimic-bench-floor-{uuid.uuid4().hex[:8]}",
    }
    uvicorn = [sys.executable, "-m", "uvicorn", "bench.durable_floor:app", "--no-access-log"]
    log = Path(var_dir) / "floor.log"
    with serving([*uvicorn, "--port", str(port)], env, log) as server:
        base = f"http://127.0.0.1:{port}"
        await wait_until_up(base, log)
        return await measured(base, args, server, url)


@asynccontextmanager
async def fanouts_back_to_back(
    url: str, var_dir: str, followers: int
) -> AsyncIterator[list[float]]:
    """Two workers fanning out to `followers`, one signal after another, until the block
    ends; yields the list the seconds of each finished fan-out are appended to."""
    engine = create_engine(url)
    await seed_followers(engine, followers, Decimal(10000))
    await engine.dispose()
    queue = f"mimic-bench-fanout-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {**mimic_env(url, var_dir, port, queue), "MIMIC_FANOUT_PARTS": "2"}
    log = Path(var_dir) / "fanout-serve.log"
    durations: list[float] = []
    with serving([*MIMIC, "serve"], env, log):
        base = f"http://127.0.0.1:{port}"
        await wait_until_up(base, log)
        async with (
            # Sessions of their own, as services: the OS shares the cores between sessions.
            worker_processes(2, url, REDIS_URL, queue, own_sessions=True),
            httpx.AsyncClient(base_url=base, timeout=60) as client,
        ):
            login = await client.post(
                "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            )
            admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
            client.cookies.clear()
            await client.put(
                "/api/admin/paper/prices/XRPUSDT", json={"price": "0.6"}, headers=admin
            )
            stop = asyncio.Event()

            async def keep_fanning_out() -> None:
                actions = ["long", "close"]
                n = 0
                while not stop.is_set():
                    started = time.perf_counter()
                    sent = await client.post(
                        "/webhook",
                        json={
                            "passphrase": PASSPHRASE,
                            "symbol": "XRPUSDT",
                            "action": actions[n % 2],
                            "id": f"fanout-{queue}-{n}",
                        },
                    )
                    signal_id = sent.json()["signal_id"]
                    n += 1
                    while True:
                        report = await client.get(f"/api/signals/{signal_id}", headers=admin)
                        if report.json()["signal"]["status"] == "done":
                            break
                        await asyncio.sleep(0.05)
                    durations.append(time.perf_counter() - started)

            task = asyncio.create_task(keep_fanning_out())
            try:
                # The first fan-out's start is part of the load too: wait until it runs.
                await asyncio.sleep(0.5)
                yield durations
            finally:
                stop.set()
                await task


async def main(args: argparse.Namespace) -> None:
    if not await redis_answers():
        raise SystemExit(f"bench/intake.py measures production mode: it needs Redis at {REDIS_URL}")
    url = await fresh_postgres()
    if url is None:
        raise SystemExit("bench/intake.py measures production mode: it needs Postgres")
    try:
        with tempfile.TemporaryDirectory() as var_dir:
            await asyncio.to_thread(
                subprocess.run,
                [*MIMIC, "migrate"],
                env=mimic_env(url, var_dir, 0, "unused"),
                check=True,
                capture_output=True,
            )
            measured_webhook = await webhook_load(url, var_dir, args)
            measured_floor = await floor_load(url, var_dir, args)
            fanout_part = ""
            if args.fanout_followers:
                # The workers' environment is this process's (tests/integration/processes.py).
                os.environ["MIMIC_WORKER_NICE"] = str(args.worker_nice)
                async with fanouts_back_to_back(url, var_dir, args.fanout_followers) as done:
                    during = await webhook_load(url, var_dir, args)
                fanout_part = (
                    f" fanout_p99_ms={during.saturated.p99_ms:.1f}"
                    f" fanout_paced_p99_ms={during.paced.p99_ms:.1f}"
                    f" fanout_rps={during.saturated.rps:.0f} fanouts={len(done)}"
                    f" worker_nice={args.worker_nice}"
                )
    finally:
        await drop_postgres(url)
    webhook = measured_webhook.saturated
    paced = measured_webhook.paced
    floor = measured_floor.saturated
    print(
        f"paced: {paced.rps:.0f} requests/s answered of {args.paced_rps:.0f} offered, "
        f"p50 {paced.p50_ms:.1f} ms, server cpu {paced.cpu_ms_per_request:.2f} ms/request, "
        f"database {paced.db_cpu_ms_per_request:.2f} ms/request",
        file=sys.stderr,
    )
    print(
        f"server cpu per request: webhook {webhook.cpu_ms_per_request:.2f} ms, "
        f"floor {floor.cpu_ms_per_request:.2f} ms; wrk's {webhook.wrk_cpu_ms_per_request:.3f} / "
        f"{floor.wrk_cpu_ms_per_request:.3f} ms; p50 {webhook.p50_ms:.1f} / {floor.p50_ms:.1f} ms",
        file=sys.stderr,
    )
    print(
        f"intake webhook_rps={webhook.rps:.0f} durable_floor_rps={floor.rps:.0f} "
        f"ratio={webhook.rps / floor.rps:.2f} "
        f"cpu_ratio={floor.cpu_ms_per_request / webhook.cpu_ms_per_request:.2f} "
        f"p99_ms={webhook.p99_ms:.1f} "
        f"paced_rps={args.paced_rps:.0f} paced_p99_ms={paced.p99_ms:.1f} "
        f"floor_paced_p99_ms={measured_floor.paced.p99_ms:.1f}{fanout_part}"
        f" server_cpu_ms={webhook.cpu_ms_per_request:.2f}"
        f" db_cpu_ms={webhook.db_cpu_ms_per_request:.2f}"
        f" floor_db_cpu_ms={floor.db_cpu_ms_per_request:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10, help="per measured wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--paced-rps",
        type=float,
        default=200,
        help="what the connections offer together in the paced run (its p99: paced_p99_ms)",
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="MIMIC_WORKER_NICE of the fan-out's workers (0: the usual priority)",
    )
    parser.add_argument(
        "--fanout-followers",
        type=int,
        default=10000,
        help="followers of the concurrent fan-outs (0: skip that phase)",
    )
    asyncio.run(main(parser.parse_args()))
