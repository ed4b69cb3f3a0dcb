"""One signal's market orders to N Binance accounts through the real ccxt adapter.

The Binance stub (tests/stubs/binance.py) runs in its own process, so it does not share a
CPU with what is measured. Same concurrency everywhere (ExecuteSignal's 64 per exchange).
The stub has no per-IP limit, so the adapter gets a budget that never runs dry: what is
measured is the order path, not Binance's 2,400 weight a minute.

S: N market orders through CcxtGateways -> ccxt -> aiohttp -> stub (best of 3 rounds,
   each a new signal), with the pool as the fan-out finds it: ExecuteSignal reads every
   account (its position) while planning, so by the time orders go out each account's
   client exists and its position mode is known.
F: the same N signed POST /fapi/v1/order, signed and built beforehand, from one bare
   aiohttp session (ccxt's own transport) with the same concurrency, in rounds
   alternating with S: the ratio S/F is what ccxt and the adapter add.
C: the cold path: a new CcxtGateways, to which all N accounts are new, loads the markets
   once, builds the N clients and sends each account's order (best of 3 rounds, each a
   new CcxtGateways: a loaded machine's noise would otherwise decide a single round).

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
from mimic.ports.exchange import CredentialVault, ExchangeGateway

SYMBOL = "XRPUSDT"  # mark 0.6: 20 XRP is 12 USDT, above the 5 USDT minimum
QUANTITY = Decimal(20)
CONCURRENCY = 64
ROUNDS = 3
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


async def bounded(jobs: Iterable[Callable[[], Awaitable[None]]], concurrency: int) -> float:
    limit = asyncio.Semaphore(concurrency)

    async def run(job: Callable[[], Awaitable[None]]) -> None:
        async with limit:
            await job()

    started = time.perf_counter()
    await asyncio.gather(*(run(job) for job in jobs))
    return time.perf_counter() - started


def signed_orders(credentials: list[tuple[str, str]], tag: str) -> list[tuple[str, str]]:
    """(API key, signed form body) of one market order per account, signed beforehand."""
    orders = []
    for key, secret in credentials:
        query = urlencode(
            {
                "symbol": SYMBOL,
                "side": "BUY",
                "type": "MARKET",
                "quantity": str(QUANTITY),
                "newClientOrderId": f"floor-{tag}-{key[-5:]}",
                "newOrderRespType": "RESULT",
                "timestamp": int(time.time() * 1000),
                "recvWindow": 60000,  # signed beforehand: still valid however slow the run
            }
        )
        signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        orders.append((key, f"{query}&signature={signature}"))
    return orders


async def floor_seconds(base_url: str, credentials: list[tuple[str, str]], tag: str) -> float:
    """The same orders, signed and built beforehand, from one bare aiohttp session (the
    HTTP client under ccxt) with the adapter's concurrency, its connections opened
    beforehand: what the stub and the transport alone cost."""
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(base_url, connector=connector) as session:

        def order(key: str, body: str) -> Callable[[], Awaitable[None]]:
            async def send() -> None:
                headers = {
                    "X-MBX-APIKEY": key,
                    "Content-Type": "application/x-www-form-urlencoded",
                }
                async with session.post("/fapi/v1/order", data=body, headers=headers) as answer:
                    text = await answer.text()
                    if answer.status != 200:
                        raise RuntimeError(f"the stub refused a floor order: {text}")

            return send

        warm_up = signed_orders(credentials[:CONCURRENCY], f"aw{tag}")
        await bounded((order(k, b) for k, b in warm_up), CONCURRENCY)
        orders = signed_orders(credentials, f"af{tag}")
        return await bounded((order(k, b) for k, b in orders), CONCURRENCY)


async def planned(
    gateways: CcxtGateways, accounts: list[ExchangeAccount]
) -> dict[str, ExchangeGateway]:
    """A planning read per account, as ExecuteSignal does before it places anything."""
    handed: dict[str, ExchangeGateway] = {}

    def read(account: ExchangeAccount) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            gateway = handed[account.id] = await gateways.for_account(account)
            await gateway.fetch_position(SYMBOL)

        return run

    await bounded((read(a) for a in accounts), CONCURRENCY)
    return handed


async def adapter_seconds(
    gateways: CcxtGateways, accounts: list[ExchangeAccount], handed: dict[str, ExchangeGateway]
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

    return await bounded((order(a) for a in accounts), CONCURRENCY)


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
            handed = await planned(gateways, accounts)
            adapter_runs, floor_runs = [], []
            for round_number in range(ROUNDS):
                adapter_runs.append(await adapter_seconds(gateways, accounts, handed))
                floor_runs.append(
                    await floor_seconds(stub.base_url, credentials, str(round_number))
                )
            rss_mb = psutil.Process().memory_info().rss / 2**20
        finally:
            await gateways.aclose()
        seconds, floor, cold_seconds = min(adapter_runs), min(floor_runs), min(cold_runs)
    finally:
        stub.stop()
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
    asyncio.run(main(args.accounts, args.warm_clients))
