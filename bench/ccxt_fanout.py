"""One signal's market orders to N Binance accounts through the real ccxt adapter.

The Binance stub (tests/stubs/binance.py) runs in its own process, so it does not share a
CPU with what is measured. Same concurrency everywhere (ExecuteSignal's 64 per exchange).
Everything runs as `mimic worker` does: on uvloop, the garbage collector tuned once set up
(entrypoints/runtime.py: with Python's defaults, the collections of the ~220,000 objects ccxt
and the pool keep took 0.1 to 0.2 s of each 1,000 orders through the adapter).
The adapter gets a budget that never runs dry, and the rounds send only orders, which
weigh nothing against the IP's 2,400 a minute that the stub counts (and reports, like
Binance): what is measured is the order path, not Binance's rate limit.

S: N market orders through CcxtGateways -> ccxt -> aiohttp -> stub (best of 5 rounds,
   each a new signal), with the pool as a fan-out finds it: every account's client
   exists (built, and warmed by one order each, before the rounds). A one-way account
   needs no position-mode read: an order goes out one-way unless Binance refuses its form.
F: the same N POST /fapi/v1/order from one bare aiohttp session (ccxt's own transport)
   with the same concurrency and the same stub, in rounds alternating with S. Each
   order is signed when it is sent and its answer parsed as JSON: no client can sign an
   order before the signal exists, nor learn its fill without reading the answer. The
   ratio S/F is what ccxt and the adapter add to that.
C: the cold path: a new CcxtGateways, to which all N accounts are new, loads the markets
   once, builds the N clients and sends each account's order (best of 5 rounds, each a
   new CcxtGateways: a loaded machine's noise would otherwise decide a single round).

The least CPU seconds this process spent in an S round and in an F round, and the stub
in an S round, show which side is the bottleneck whatever the machine's load:
    ccxt_fanout_cpu adapter_cpu=A floor_cpu=B cpu_ratio=A/B stub_cpu=T

Prints last:
    ccxt_fanout accounts=N seconds=S floor_seconds=F ratio=S/F cold_seconds=C rss_mb=M

With --warm-clients K, also builds K account clients in one CcxtGateways, each warmed by
its market order (which, unlike a read, weighs nothing against the stub's per-IP weight),
and prints the process's RSS with all K alive:
    ccxt_fanout_clients clients=K seconds=W rss_mb=M
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.stubs.binance import bench_credentials

from mimic.adapters.ccxt import CcxtGateways, WeightBudget
from mimic.domain.accounts import ApiCredentials, ExchangeAccount
from mimic.domain.orders import OrderLeg, OrderRequest, OrderSide, client_order_id
from mimic.entrypoints.runtime import run_event_loop, tune_garbage_collector
from mimic.ports.exchange import CredentialVault, ExchangeGateway

SYMBOL = "XRPUSDT"  # mark 0.6: 20 XRP is 12 USDT, above the 5 USDT minimum
QUANTITY = Decimal(20)
CONCURRENCY = 64
ROUNDS = 5
UNBOUNDED_WEIGHT = 10**12


class BenchVault(CredentialVault):
    def __init__(self, credentials: dict[str, ApiCredentials]) -> None:
        self._credentials = credentials

    async def credentials_for(self, account: ExchangeAccount) -> ApiCredentials:
        return self._credentials[account.id]


class RunningStub:
    def __init__(self, accounts: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.stubs.binance", "--accounts", str(accounts)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("ready "):
            self.stop()
            raise RuntimeError(f"the stub did not start: {line!r}")
        self.base_url = line.split(" ", 1)[1]

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # the stub serves until its stdin closes
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Meter:
    """CPU seconds of this process and of the stub during the last measured round."""

    def __init__(self, stub_pid: int) -> None:
        self._me = psutil.Process()
        self._stub = psutil.Process(stub_pid)
        self.mine = self.stubs = 0.0

    def readings(self) -> tuple[float, float]:
        mine, stubs = self._me.cpu_times(), self._stub.cpu_times()
        return mine.user + mine.system, stubs.user + stubs.system


async def bounded(
    jobs: Iterable[Callable[[], Awaitable[None]]], concurrency: int, meter: Meter | None = None
) -> float:
    """Runs the jobs, `concurrency` at a time: that many workers take the next job as
    each finishes (10,000 tasks queued on one asyncio.Semaphore would cost time quadratic
    in their number, as application/exchange_concurrency.py says)."""
    queue = iter(jobs)

    async def worker() -> None:
        for job in queue:
            await job()

    mine, stubs = meter.readings() if meter is not None else (0.0, 0.0)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    if meter is not None:
        mine_after, stubs_after = meter.readings()
        meter.mine, meter.stubs = mine_after - mine, stubs_after - stubs
    return seconds


def signed_order(key: str, secret: str, client_id: str) -> str:
    """The signed form body of one market order, as Binance wants it."""
    query = urlencode(
        {
            "symbol": SYMBOL,
            "side": "BUY",
            "type": "MARKET",
            "quantity": str(QUANTITY),
            "newClientOrderId": client_id,
            "newOrderRespType": "RESULT",
            "timestamp": int(time.time() * 1000),
        }
    )
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


async def floor_seconds(
    base_url: str, credentials: list[tuple[str, str]], tag: str, meter: Meter | None = None
) -> float:
    """The same orders from one bare aiohttp session (the HTTP client under ccxt) with the
    adapter's concurrency, its connections opened beforehand: each signed as it is sent,
    its answer parsed. What the stub, the transport and the least a client does cost."""
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    jar = aiohttp.DummyCookieJar()  # as the adapter's session: no cookie handling
    async with aiohttp.ClientSession(base_url, connector=connector, cookie_jar=jar) as session:

        def order(key: str, secret: str, client_id: str) -> Callable[[], Awaitable[None]]:
            async def send() -> None:
                headers = {
                    "X-MBX-APIKEY": key,
                    "Content-Type": "application/x-www-form-urlencoded",
                }
                body = signed_order(key, secret, client_id)
                async with session.post("/fapi/v1/order", data=body, headers=headers) as answer:
                    fill = json.loads(await answer.text())
                    if answer.status != 200 or fill.get("status") != "FILLED":
                        raise RuntimeError(f"the stub refused a floor order: {fill}")

            return send

        warm_up = credentials[:CONCURRENCY]
        await bounded((order(k, s, f"floor-w{tag}-{k[-5:]}") for k, s in warm_up), CONCURRENCY)
        return await bounded(
            (order(k, s, f"floor-{tag}-{k[-5:]}") for k, s in credentials), CONCURRENCY, meter
        )


async def adapter_seconds(
    gateways: CcxtGateways,
    accounts: list[ExchangeAccount],
    handed: dict[str, ExchangeGateway],
    meter: Meter | None = None,
) -> float:
    """N market orders of one new signal through the adapter."""
    signal_id = uuid.uuid4().hex

    def order(account: ExchangeAccount) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            gateway = handed.get(account.id) or await gateways.for_account(account)
            await gateway.place_market_order(
                OrderRequest(
                    symbol=SYMBOL,
                    side=OrderSide.BUY,
                    quantity=QUANTITY,
                    client_order_id=client_order_id(signal_id, account.id, OrderLeg.ENTRY),
                )
            )

        return run

    return await bounded((order(a) for a in accounts), CONCURRENCY, meter)


def bench_accounts(count: int) -> tuple[list[ExchangeAccount], BenchVault]:
    now = datetime.now(UTC)
    accounts = [
        ExchangeAccount(
            id=f"acc-{i:05d}",
            user_id=f"u{i}",
            exchange="binanceusdm",
            label="bench",
            created_at=now,
        )
        for i in range(count)
    ]
    vault = BenchVault(
        {
            a.id: ApiCredentials(key, secret)
            for a, (key, secret) in zip(accounts, bench_credentials(count), strict=True)
        }
    )
    return accounts, vault


def bench_gateways(vault: BenchVault, base_url: str, count: int) -> CcxtGateways:
    return CcxtGateways(
        vault,
        api_origins={"binanceusdm": base_url},
        max_clients=count,
        budgets={"binanceusdm": WeightBudget(UNBOUNDED_WEIGHT)},
    )


async def order_path(count: int) -> None:
    credentials = list(bench_credentials(count))
    accounts, vault = bench_accounts(count)
    stub = RunningStub(count)
    meter = Meter(stub.process.pid)
    try:
        cold_runs = []
        for _ in range(ROUNDS):
            cold = bench_gateways(vault, stub.base_url, count)
            try:
                cold_runs.append(await adapter_seconds(cold, accounts, {}))
            finally:
                await cold.aclose()

        # Alternating rounds, the best of each side: a shared machine's noise hits both.
        gateways = bench_gateways(vault, stub.base_url, count)
        try:
            handed = {a.id: await gateways.for_account(a) for a in accounts}
            await adapter_seconds(gateways, accounts, handed)  # the warm-up orders
            adapter_runs, floor_runs = [], []
            for round_number in range(ROUNDS):
                seconds = await adapter_seconds(gateways, accounts, handed, meter)
                adapter_runs.append((seconds, meter.mine, meter.stubs))
                seconds = await floor_seconds(stub.base_url, credentials, str(round_number), meter)
                floor_runs.append((seconds, meter.mine, meter.stubs))
            rss_mb = psutil.Process().memory_info().rss / 2**20
        finally:
            await gateways.aclose()
    finally:
        stub.stop()
    seconds, floor, cold_seconds = min(adapter_runs)[0], min(floor_runs)[0], min(cold_runs)
    adapter_cpu = min(run[1] for run in adapter_runs)
    floor_cpu = min(run[1] for run in floor_runs)
    stub_cpu = min(run[2] for run in adapter_runs)
    print(
        f"ccxt_fanout_cpu adapter_cpu={adapter_cpu:.3f} floor_cpu={floor_cpu:.3f} "
        f"cpu_ratio={adapter_cpu / floor_cpu:.2f} stub_cpu={stub_cpu:.3f}"
    )
    print(
        f"ccxt_fanout accounts={count} seconds={seconds:.3f} floor_seconds={floor:.3f} "
        f"ratio={seconds / floor:.2f} cold_seconds={cold_seconds:.3f} rss_mb={rss_mb:.0f}"
    )


async def warm_clients(count: int) -> None:
    """K clients built and each warmed by its order, all alive at once."""
    accounts, vault = bench_accounts(count)
    stub = RunningStub(count)
    try:
        gateways = bench_gateways(vault, stub.base_url, count)
        try:
            seconds = await adapter_seconds(gateways, accounts, {})
            rss_mb = psutil.Process().memory_info().rss / 2**20
        finally:
            await gateways.aclose()
    finally:
        stub.stop()
    print(f"ccxt_fanout_clients clients={count} seconds={seconds:.3f} rss_mb={rss_mb:.0f}")


async def main(count: int, clients: int | None) -> None:
    tune_garbage_collector()  # as `mimic worker` does once set up
    if clients is not None:
        await warm_clients(clients)
    await order_path(count)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument(
        "--warm-clients", type=int, default=None, help="also measure K warm clients' memory"
    )
    args = parser.parse_args()
    # uvloop, as `mimic worker` runs: the floor too.
    run_event_loop(main(args.accounts, args.warm_clients))
