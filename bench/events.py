"""Account streams: N Binance accounts streaming through ccxt.pro, a burst of N TP fills,
recorded in the database.

The Binance stub with user data streams (tests/stubs/binance_user_stream.py) runs in its own
process. This process is a worker as `mimic worker` / `mimic run` compose it (the real
container and `holding_account_streams`): it holds one stream per account (a ccxt.pro
client, listen key and socket each) and records what they report in the database, here
the embedded mode's SQLite file (WAL). Each of the N followers has a position Mimic opened
(a filled entry on XRPUSDT, written before each burst). The stub then tells every stream
that the position's TP fired, as Binance tells it: ALGO_UPDATE (the TP placed an order),
TRADE_LITE, ACCOUNT_UPDATE (the position is flat), ORDER_TRADE_UPDATE (the fill), ALGO_UPDATE
(the TP finished).

S: seconds from asking for the burst until every follower's TP is recorded: its order row
   (leg take_profit, under the entry) committed, read back from the database, which the
   bench polls every 10 ms (best of 3 bursts, each a new position per follower). The fills
   (closed trades are built from them) and the notifications are checked after each burst;
F: the same burst read by a bare consumer: N aiohttp WebSockets on the same listen keys
   that only read and JSON-decode the same messages (best of 3): the floor of what reading
   costs;
M: the largest resident memory of this process while it holds the N streams and records.

Prints last:
    events accounts=N database=sqlite seconds=S floor_seconds=F ratio=S/F rss_mb=M
"""

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import aiohttp
import psutil
from sqlalchemy import Select, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from taskiq import InMemoryBroker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.harness import make_settings, migrate
from tests.integration.processes import seed_stub_followers
from tests.stubs.binance import bench_credentials
from tests.stubs.binance_user_stream import BURST_PATH, STREAMS_PATH

from mimic.adapters.sqlalchemy import tables
from mimic.domain.accounts import ApiCredentials
from mimic.domain.orders import OrderLeg
from mimic.entrypoints.ioc.root import build_container
from mimic.entrypoints.ioc.streams import holding_account_streams
from mimic.entrypoints.runtime import run_event_loop, tune_garbage_collector
from mimic.ports.credentials import SecretBox

ROUNDS = 3
POLL_SECONDS = 0.01
QUIET_CPU_PERCENT = 10.0
SYMBOL = "XRPUSDT"


class Peak:
    """The largest RSS of this process, sampled every 50 ms while it runs."""

    def __init__(self) -> None:
        self.mb = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Peak":
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._sample_once()

    def _sample_once(self) -> None:
        self.mb = max(self.mb, psutil.Process().memory_info().rss / 2**20)

    async def _sample(self) -> None:
        while True:
            self._sample_once()
            await asyncio.sleep(0.05)


async def open_streams(stub_url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(stub_url + STREAMS_PATH) as answer:
        return int((await answer.json())["open"])


async def burst(stub_url: str, round_number: int, accounts: int) -> float:
    """Asks for the burst; returns when it was asked."""
    started = time.perf_counter()
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stub_url}{BURST_PATH}?round={round_number}") as answer,
    ):
        assert (await answer.json())["sent"] == accounts
    return started


async def count(engine: AsyncEngine, query: Select[int]) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


def take_profits() -> Select[int]:
    c = tables.order_intents.c
    return select(func.count()).where(c.leg == OrderLeg.TAKE_PROFIT.value)


async def open_positions(engine: AsyncEngine, accounts: list[tuple[str, str]]) -> None:
    """A filled entry per follower: the position Mimic opened, whose TP is to fire."""
    now = datetime.now(UTC)
    rows = [
        {
            "id": uuid.uuid4().hex,
            "signal_id": None,
            "account_id": account_id,
            "user_id": user_id,
            "leg": OrderLeg.ENTRY.value,
            "symbol": SYMBOL,
            "side": "buy",
            "quantity": Decimal(20),
            "reduce_only": False,
            "client_order_id": f"mimic-{uuid.uuid4().hex[:24]}",
            "status": "filled",
            "attempts": 1,
            "exchange_order_id": str(uuid.uuid4().int % 10**12),
            "filled_quantity": Decimal(20),
            "average_price": Decimal("0.60"),
            "fee": Decimal("0.0048"),
            "created_at": now,
            "tp_perc": Decimal(3),
            "sl_perc": Decimal(2),
            "take_profit_price": Decimal("0.618"),
            "stop_loss_price": Decimal("0.588"),
        }
        for account_id, user_id in accounts
    ]
    async with engine.begin() as connection:
        await connection.execute(insert(tables.order_intents), rows)


async def until(done: Callable[[], Awaitable[bool]], within: float) -> None:
    deadline = time.perf_counter() + within
    while not await done():
        if time.perf_counter() > deadline:
            raise TimeoutError("not done in time")
        await asyncio.sleep(POLL_SECONDS)


async def recorded_seconds(stub_url: str, accounts: int, database: Path) -> tuple[float, float]:
    """Best seconds until a burst is recorded, and the peak RSS meanwhile."""
    database_url = f"sqlite+aiosqlite:///{database}"
    await migrate(database_url)
    settings = make_settings(
        database_url,
        ccxt_api_origins={"binanceusdm": stub_url},
        account_streams=True,
        # The stub has no limit on new connections per IP (Binance: 300 in 5 minutes):
        # what is timed is a burst on open streams, not the pace of opening them.
        stream_connects_per_5min=10**6,
    )
    container = build_container(settings, InMemoryBroker())
    try:
        engine = await container.get(AsyncEngine)
        box = await container.get(SecretBox)
        keys = [ApiCredentials(k, s) for k, s in bench_credentials(accounts)]
        account_ids = await seed_stub_followers(engine, keys, box)
        async with engine.connect() as connection:
            c = tables.exchange_accounts.c
            owners = dict((await connection.execute(select(c.id, c.user_id))).all())
        followers = [(a, owners[a]) for a in account_ids]
        tune_garbage_collector()  # as `mimic worker` does once it is set up
        best = float("inf")
        async with Peak() as peak, holding_account_streams(container, settings):

            async def all_streaming() -> bool:
                return await open_streams(stub_url) == accounts

            await until(all_streaming, 300)
            await quiet()  # the reconciliation each new stream starts with
            for round_number in range(ROUNDS):
                await open_positions(engine, followers)
                expected = accounts * (round_number + 1)
                started = await burst(stub_url, round_number, accounts)

                async def all_recorded(expected: int = expected) -> bool:
                    return await count(engine, take_profits()) >= expected

                await until(all_recorded, 120)
                seconds = time.perf_counter() - started
                best = min(best, seconds)
                print(f"events_round round={round_number} seconds={seconds:.3f}", flush=True)
                await check_once(engine, expected)
                await quiet()
        return best, peak.mb
    finally:
        await container.close()


async def quiet(within: float = 180.0) -> None:
    """Until what followed the burst is over: the TP/SL left on each flat position is
    cancelled after the recording, at the pace the request budget of this address allows
    (on Binance, 2,400 weight a minute). The next burst is timed without it."""
    process = psutil.Process()
    process.cpu_percent()
    deadline = time.perf_counter() + within
    calm = 0
    while calm < 3 and time.perf_counter() < deadline:
        await asyncio.sleep(0.5)
        calm = calm + 1 if process.cpu_percent() < QUIET_CPU_PERCENT else 0


async def check_once(engine: AsyncEngine, expected: int) -> None:
    """Each fill once, one TP row and one notification per fill: nothing twice."""
    fills = select(func.count()).select_from(tables.account_fills)
    notices = select(func.count()).where(
        tables.notification_outbox.c.event == "position.take_profit"
    )

    async def notified() -> bool:
        return await count(engine, notices) >= expected

    await until(notified, 30)
    assert await count(engine, take_profits()) == expected
    assert await count(engine, fills) == expected
    assert await count(engine, notices) == expected


async def bare_consumer(stub_url: str, accounts: int) -> float:
    arrived: asyncio.Queue[float] = asyncio.Queue()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = []
        for key, _ in bench_credentials(accounts):
            async with session.post(
                f"{stub_url}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": key}
            ) as answer:
                listen_key = (await answer.json())["listenKey"]
            sockets.append(
                await session.ws_connect(f"{stub_url}/private/ws?listenKey={listen_key}")
            )

        async def read(socket: aiohttp.ClientWebSocketResponse) -> None:
            async for message in socket:
                if message.json().get("e") == "ORDER_TRADE_UPDATE":
                    arrived.put_nowait(time.perf_counter())

        tasks = [asyncio.create_task(read(s)) for s in sockets]
        best = float("inf")
        for round_number in range(ROUNDS):
            started = await burst(stub_url, 100 + round_number, accounts)
            last = started
            for _ in range(accounts):
                last = await asyncio.wait_for(arrived.get(), 60)
            best = min(best, last - started)
            await asyncio.sleep(0.5)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for socket in sockets:
            await socket.close()
    return best


async def main(accounts: int) -> None:
    stub = subprocess.Popen(  # noqa: ASYNC220  # started once, before anything is measured
        [sys.executable, "-m", "tests.stubs.binance_user_stream", "--accounts", str(accounts)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert stub.stdout is not None
        line = stub.stdout.readline().split()
        assert line[:1] == ["ready"], line
        url = line[1]
        with tempfile.TemporaryDirectory() as directory:
            seconds, rss = await recorded_seconds(url, accounts, Path(directory) / "events.db")
        floor = await bare_consumer(url, accounts)
    finally:
        assert stub.stdin is not None
        stub.stdin.close()
        stub.wait(timeout=30)
    print(
        f"events accounts={accounts} database=sqlite seconds={seconds:.3f} "
        f"floor_seconds={floor:.3f} ratio={seconds / floor:.2f} rss_mb={rss:.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    # uvloop, as `mimic worker` runs on (the floor too).
    run_event_loop(main(parser.parse_args().accounts))
