"""One signal through the real pipeline to N followers, against the paper exchange alone.

S: from the webhook POST (real Litestar app, HTTP intake) until every follower's order is
settled (queue, worker, database, paper exchange with zero latency), embedded mode.
F: the same paper exchange accepting the same number of orders with the same concurrency
and nothing else, in the same run. Prints last:
    fanout followers=N seconds=S floor_seconds=F ratio=S/F rss_mb=M
"""

import argparse
import asyncio
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psutil
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.harness import make_settings, running_platform
from tests.integration.processes import seed_followers

from bench.services import drop_postgres, fresh_postgres
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


async def main(followers: int, database_url: str | None) -> None:
    url = database_url or await fresh_postgres()
    owned = database_url is None and url is not None
    if url is None:
        url = f"sqlite+aiosqlite:///{Path('var') / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    print(f"database: {url.split('@')[-1]}", file=sys.stderr)
    settings = make_settings(url, max_signal_age=timedelta(minutes=30))
    try:
        async with running_platform(settings) as api:
            tune_garbage_collector()  # as `mimic run` does once the app is set up
            engine = create_engine(url)
            accounts = await seed_followers(engine, followers, Decimal(10000))
            await api.set_price("XRPUSDT", "0.6")
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
            await engine.dispose()
            rss_mb = psutil.Process().memory_info().rss / 2**20
        # Once the platform has stopped: its sender and monitor must not slow the floor.
        floor = await floor_seconds(url, accounts, PAPER_CONCURRENCY)
    finally:
        if owned:
            await drop_postgres(url)
    print(
        f"fanout followers={followers} seconds={seconds:.3f} floor_seconds={floor:.3f} "
        f"ratio={seconds / floor:.2f} rss_mb={rss_mb:.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="default: a fresh Postgres database")
    args = parser.parse_args()
    # uvloop, as the platform runs on (harness, uvicorn, `mimic worker`): the floor too.
    run_event_loop(main(args.followers, args.database_url))
