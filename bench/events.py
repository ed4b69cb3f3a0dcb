"""Account streams: N Binance accounts streaming through ccxt.pro, a burst of N TP fills.

The Binance stub with user data streams (tests/stubs/binance_user_stream.py) runs in its own
process. This process holds one CcxtAccountStream per account (as a worker holding them
would: a ccxt.pro client, listen key and socket each), then asks the stub for a burst:
every stream is told a TP that fired (ALGO_UPDATE naming the TP, the spawned order's
ORDER_TRADE_UPDATE).

S: seconds from asking for the burst until every account's TP fill came out of its stream
   as Mimic's FillEvent, named as the TP (best of 3 bursts);
F: the same with a bare consumer: N aiohttp WebSockets on the same listen keys that only
   read and JSON-decode the same messages (best of 3): the floor of what reading costs;
M: the resident memory of this process while it holds the N ccxt.pro streams.

Prints last:
    events accounts=N seconds=S floor_seconds=F ratio=S/F rss_mb=M
"""

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.stubs.binance import bench_credentials
from tests.stubs.binance_user_stream import BURST_PATH

from mimic.adapters.ccxt.account_stream import CcxtAccountStream
from mimic.adapters.system import SystemClock
from mimic.domain.account_events import AccountEvent, FillEvent
from mimic.domain.accounts import ApiCredentials, ExchangeAccount
from mimic.ports.exchange import CredentialVault

ROUNDS = 3


class BenchVault(CredentialVault):
    def __init__(self, accounts: int) -> None:
        self._keys = dict(enumerate(bench_credentials(accounts)))

    async def credentials_for(self, account: ExchangeAccount) -> ApiCredentials:
        key, secret = self._keys[int(account.id)]
        return ApiCredentials(key, secret)


async def held_streams(stub_url: str, accounts: int) -> tuple[float, float]:
    """Best seconds of the bursts through ccxt.pro streams, and the RSS meanwhile."""
    streams = CcxtAccountStream(
        BenchVault(accounts), SystemClock(), api_origins={"binanceusdm": stub_url}
    )
    now = datetime.now(UTC)
    iterators = [
        streams.events(ExchangeAccount(str(n), "user", "binanceusdm", "main", now))
        for n in range(accounts)
    ]
    arrived: asyncio.Queue[float] = asyncio.Queue()

    async def follow(events: AsyncIterator[Sequence[AccountEvent]]) -> None:
        async for batch in events:
            for event in batch:
                if isinstance(event, FillEvent) and (event.client_order_id or "").endswith("tp"):
                    arrived.put_nowait(time.perf_counter())

    tasks = []
    for events in iterators:  # the first batch of each is StreamConnected
        await anext(events)
        tasks.append(asyncio.create_task(follow(events)))
    rss = psutil.Process().memory_info().rss / 2**20
    best = await best_of_bursts(stub_url, accounts, arrived)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for events in iterators:
        await events.aclose()  # type: ignore[attr-defined]
    await streams.aclose()
    return best, rss


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
        best = await best_of_bursts(stub_url, accounts, arrived)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for socket in sockets:
            await socket.close()
    return best


async def best_of_bursts(stub_url: str, accounts: int, arrived: asyncio.Queue[float]) -> float:
    best = float("inf")
    async with aiohttp.ClientSession() as session:
        for _ in range(ROUNDS):
            started = time.perf_counter()
            async with session.post(stub_url + BURST_PATH) as answer:
                assert (await answer.json())["sent"] == accounts
            last = started
            for _ in range(accounts):
                last = await asyncio.wait_for(arrived.get(), 60)
            best = min(best, last - started)
            await asyncio.sleep(0.5)
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
        seconds, rss = await held_streams(url, accounts)
        floor = await bare_consumer(url, accounts)
    finally:
        assert stub.stdin is not None
        stub.stdin.close()
        stub.wait(timeout=30)
    print(
        f"events accounts={accounts} seconds={seconds:.3f} floor_seconds={floor:.3f} "
        f"ratio={seconds / floor:.2f} rss_mb={rss:.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    asyncio.run(main(parser.parse_args().accounts))
