"""One signal through the real pipeline to N followers, against the paper exchange alone.

S: from the webhook POST (real Litestar app, HTTP intake) until every follower's order is
settled (queue, worker, database, paper exchange with zero latency). With `--workers W`
production mode: Redis Streams and W `mimic worker` processes sharing the signal in W
fan-out parts; with `--workers 0` the embedded mode (in-process worker, in-memory queue).
By default, as docs/operator-guide.md advises for production, one worker per core when Redis
answers (as bench/intake.py, which queues onto Redis when it answers), else the embedded mode.
F: the same paper exchange accepting the same number of orders with the same concurrency
and nothing else, in one process, in the same run. Prints last:
    fanout followers=N workers=W seconds=S floor_seconds=F ratio=S/F rss_mb=M
        copy_p50_ms=P copy_p99_ms=Q load1=L
where M is the largest resident memory of a process that ran the fan-out, P and Q the
median and 99th percentile of the time from the webhook's receipt to each follower's
exchange acknowledgement, and L the machine's one-minute load average at the end.
`--scale 1000,10000,100000` (or `--scale` alone) runs those sizes in turn, each on its own
fresh database, and prints one such line per size. MIMIC_ACCOUNT_STREAMS=false leaves the
account streams out (embedded and workers alike). With them on, the signal is sent once
every follower's stream is held, connected and reconciled (the processes say so in their
logs), as on a running platform whose followers were there before the signal: how long
that took after seeding is printed on stderr. On Postgres the seeded tables are analyzed
after seeding, as autovacuum would have done by then on such a platform.
"""

import argparse
import asyncio
import functools
import logging
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psutil
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.harness import make_settings, running_platform
from tests.integration.processes import production_env, running, seed_followers

from bench.services import REDIS_URL, drop_postgres, fresh_postgres, redis_answers
from mimic.adapters.paper.gateway import PaperGateways
from mimic.adapters.paper.venue import PaperVenue
from mimic.adapters.sqlalchemy import tables
from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.system import SystemClock
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.orders import OrderRequest, OrderSide
from mimic.entrypoints.runtime import run_event_loop, tune_garbage_collector

# As many concurrent orders as the pipeline sends the paper venue (entrypoints/ioc.py).
PAPER_CONCURRENCY = 1000


async def floor_seconds(database_url: str, account_ids: list[str], concurrency: int) -> float:
    """The paper exchange alone: N market orders, same concurrency, nothing around them."""
    engine = create_engine(database_url)
    venue = PaperVenue(create_session_factory(engine), SystemClock())
    gateways = PaperGateways(venue)
    todo = iter(account_ids)

    async def sender() -> None:
        # A fixed set of senders, as the pipeline has: one asyncio.Semaphore queueing
        # thousands of tasks would cost time quadratic in their number.
        for account_id in todo:
            account = ExchangeAccount(
                id=account_id,
                user_id="bench",
                exchange="paper",
                label="paper",
                created_at=SystemClock().now(),
            )
            gateway = await gateways.for_account(account)
            await gateway.place_market_order(
                OrderRequest(
                    symbol="XRPUSDT",
                    side=OrderSide.BUY,
                    quantity=Decimal(100),
                    client_order_id=f"floor-{account_id[:20]}",
                )
            )

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(min(concurrency, len(account_ids)))))
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed


SETTLED = re.compile(r"account streams settled: (\d+) held")


class SettledStreams(logging.Handler):
    """The embedded process's holder: how many streams it last said were settled."""

    def __init__(self) -> None:
        super().__init__()
        self._held = 0

    def emit(self, record: logging.LogRecord) -> None:
        found = SETTLED.search(record.getMessage())
        if found:
            self._held = int(found.group(1))

    def settled(self) -> int:
        return self._held


def settled_in_logs(logs: list[Path]) -> int:
    """The streams the worker processes last said were settled, all together."""
    held = 0
    for log in logs:
        found = SETTLED.findall(log.read_text())
        held += int(found[-1]) if found else 0
    return held


async def wait_for_streams(held: Callable[[], int], followers: int) -> float:
    """Seconds until every follower's stream is held and reconciled."""
    started = time.perf_counter()
    deadline = time.monotonic() + 300
    while held() < followers:
        if time.monotonic() > deadline:
            raise SystemExit(f"account streams did not settle: {held()} of {followers}")
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


@asynccontextmanager
async def worker_processes(
    count: int, database_url: str, redis_url: str, queue_name: str, *, own_sessions: bool = False
) -> AsyncIterator[tuple[list[psutil.Process], list[Path]]]:
    """`count` real `mimic worker` processes, started and listening, and their logs (each
    in a session of its own with `own_sessions`, as services run)."""
    with tempfile.TemporaryDirectory() as var_dir:
        env = production_env(database_url, redis_url, Path(var_dir), MIMIC_QUEUE_NAME=queue_name)
        logs = [Path(var_dir) / f"worker{n}.log" for n in range(count)]
        with ExitStack() as stack:
            processes = [
                stack.enter_context(running("worker", env, log, own_session=own_sessions))
                for log in logs
            ]
            deadline = time.monotonic() + 90  # a loaded machine starts them slowly
            while not all("worker started" in log.read_text() for log in logs):
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    raise SystemExit("workers did not start:\n" + logs[0].read_text())
                await asyncio.sleep(0.05)
            yield [psutil.Process(p.pid) for p in processes], logs


async def analyze(engine: AsyncEngine) -> None:
    """Statistics of the tables seeding filled, as autovacuum keeps them on a platform whose
    followers were there before the signal: without any, Postgres plans every read of them
    for nearly empty tables. The others (intents, orders) are empty until the signal, and
    statistics saying so would be wrong for a platform with history."""
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            for table in (tables.users, tables.exchange_accounts, tables.paper_accounts):
                await connection.execute(text(f"ANALYZE {table.name}"))


def cpu_seconds(processes: list[psutil.Process]) -> list[float]:
    return [sum(process.cpu_times()[:2]) for process in processes]


def postgres_cpu_seconds() -> float:
    """CPU seconds the Postgres server has spent so far: its live processes' own, plus the
    ended ones' (the postmaster's children times, added when it reaps a backend). A backend
    that ends between two readings moves its time from one term to the other: summing the
    live processes alone dropped it, and a difference went negative (-18.62)."""
    processes = {
        p.pid: p for p in psutil.process_iter(["name"]) if "postgres" in (p.info["name"] or "")
    }
    total = 0.0
    for process in processes.values():
        try:
            times = process.cpu_times()
            total += times.user + times.system
            if process.ppid() not in processes:  # the postmaster
                total += times.children_user + times.children_system
        except psutil.NoSuchProcess:  # ended meanwhile: its time is now the postmaster's
            continue
    return total


async def main(
    followers: int, workers: int | None, database_url: str | None, redis_url: str
) -> None:
    redis_up = await redis_answers(redis_url)
    if workers is None:
        workers = (os.cpu_count() or 1) if redis_up else 0
    url = database_url or await fresh_postgres()
    owned = database_url is None and url is not None
    if url is None:
        url = f"sqlite+aiosqlite:///{Path('var') / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    print(f"database: {url.split('@')[-1]}", file=sys.stderr)
    # MIMIC_ACCOUNT_STREAMS=false leaves the account streams out, embedded as in the workers.
    streams = os.environ.get("MIMIC_ACCOUNT_STREAMS", "true").lower() not in ("0", "false", "no")
    settings = make_settings(url, max_signal_age=timedelta(minutes=30), account_streams=streams)
    if workers:
        if not redis_up:
            raise SystemExit(f"--workers needs Redis at {redis_url}")
        settings = make_settings(
            url,
            max_signal_age=timedelta(minutes=30),
            redis_url=redis_url,
            queue_name=f"mimic-bench-{uuid.uuid4().hex[:8]}",
            fanout_parts=workers,
            account_streams=streams,
        )
    embedded = SettledStreams()
    holder_log = logging.getLogger("mimic.application.hold_account_streams")
    holder_log.addHandler(embedded)
    holder_log.setLevel(logging.INFO)
    try:
        async with AsyncExitStack() as stack:
            api = await stack.enter_async_context(
                running_platform(settings, embedded_worker=not workers)
            )
            fanning = [psutil.Process()]
            settled: Callable[[], int] = embedded.settled
            if workers:
                assert settings.redis_url is not None
                fanning, logs = await stack.enter_async_context(
                    worker_processes(workers, url, settings.redis_url, settings.queue_name)
                )
                settled = functools.partial(settled_in_logs, logs)
            tune_garbage_collector()  # as `mimic run` does once the app is set up
            engine = create_engine(url)
            accounts = await seed_followers(engine, followers, Decimal(10000))
            await analyze(engine)
            await api.set_price("XRPUSDT", "0.6")
            if streams:
                took = await wait_for_streams(settled, followers)
                print(f"account streams settled {took:.1f} s after seeding", file=sys.stderr)
            cpu_before = cpu_seconds(fanning), postgres_cpu_seconds()
            started = time.perf_counter()
            signal = await api.signal(symbol="XRPUSDT", action="long")
            async with engine.connect() as connection:
                while True:
                    status = (
                        await connection.execute(
                            select(tables.signals.c.status).where(
                                tables.signals.c.id == signal["signal_id"]
                            )
                        )
                    ).scalar_one()
                    await connection.commit()
                    if status == "done":
                        break
                    # Each look takes the GIL from the pipeline: every 25 ms, not every 10.
                    await asyncio.sleep(0.025)
            seconds = time.perf_counter() - started
            report = await api.settled_report(signal["signal_id"])
            assert report["counts"] == {"filled": followers}, report["counts"]
            latency = await copy_latency_ms(engine, signal["signal_id"])
            await engine.dispose()
            rss_mb = max(process.memory_info().rss for process in fanning) / 2**20
            spent = [
                round(after - before, 2)
                for after, before in zip(cpu_seconds(fanning), cpu_before[0], strict=True)
            ]
            database = postgres_cpu_seconds() - cpu_before[1]
            print(
                f"cpu seconds during the fan-out: fanning {spent}, postgres {database:.2f}",
                file=sys.stderr,
            )
        # Once the platform has stopped: its sender and monitor must not slow the floor.
        floor_cpu = cpu_seconds([psutil.Process()]), postgres_cpu_seconds()
        floor = await floor_seconds(url, accounts, PAPER_CONCURRENCY)
        print(
            "cpu seconds during the floor: "
            f"own {cpu_seconds([psutil.Process()])[0] - floor_cpu[0][0]:.2f}, "
            f"postgres {postgres_cpu_seconds() - floor_cpu[1]:.2f}",
            file=sys.stderr,
        )
    finally:
        holder_log.removeHandler(embedded)
        if owned:
            await drop_postgres(url)
    print(
        f"fanout followers={followers} workers={workers} seconds={seconds:.3f} "
        f"floor_seconds={floor:.3f} ratio={seconds / floor:.2f} rss_mb={rss_mb:.0f} "
        f"copy_p50_ms={latency[0]:.0f} copy_p99_ms={latency[1]:.0f} "
        f"load1={os.getloadavg()[0]:.1f}"
    )


async def copy_latency_ms(engine: AsyncEngine, signal_id: str) -> tuple[float, float]:
    """p50 and p99 of the time from the webhook's receipt to each follower's exchange
    acknowledgement (the result is stored as soon as the exchange answers)."""
    async with engine.connect() as connection:
        received = (
            await connection.execute(
                select(tables.signals.c.received_at).where(tables.signals.c.id == signal_id)
            )
        ).scalar_one()
        settled = (
            await connection.execute(
                select(tables.order_intents.c.updated_at).where(
                    tables.order_intents.c.signal_id == signal_id,
                    tables.order_intents.c.status == "filled",
                )
            )
        ).scalars()
        delays = sorted((at - received).total_seconds() * 1000 for at in settled)
    print(
        f"copy latency: first {delays[0]:.0f} ms, p10 {delays[len(delays) // 10]:.0f} ms",
        file=sys.stderr,
    )
    return delays[len(delays) // 2], delays[min(len(delays) - 1, int(len(delays) * 0.99))]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument(
        "--scale",
        nargs="?",
        const="1000,10000,100000",
        default=None,
        help="comma-separated follower counts, one line each (alone: 1000,10000,100000)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="W worker processes over Redis, 0: the embedded in-process worker "
        "(default: one per core when Redis answers, else 0)",
    )
    parser.add_argument("--database-url", default=None, help="default: a fresh Postgres database")
    parser.add_argument("--redis-url", default=REDIS_URL)
    args = parser.parse_args()
    # uvloop, as the platform runs on (harness, uvicorn, `mimic worker`): the floor too.
    sizes = [int(n) for n in args.scale.split(",")] if args.scale else [args.followers]
    for size in sizes:
        run_event_loop(main(size, args.workers, args.database_url, args.redis_url))
