"""The request weight a signal's planning spends on N Binance followers, by REST alone
(before) and with each follower's position read from its live stream (after).

The Binance stub with user data streams runs in this process (only weight is counted,
not time): N accounts, each with its stream held by the real adapter and the in-memory
state store. A signal is planned for every account as the fan-out does
(`fetch_snapshot(symbol, with_balance=True)`, 64 at a time): once with gateways that read
by REST, once with gateways that read the streamed state. The weight is what the stub
counts for those calls (Binance's per-endpoint weights, tests/stubs/binance.py).

Prints: weight accounts=N rest_weight_before=B after=A position_reads_before=P after=Q
"""

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.services import FixedClock
from tests.integration.adapters.ccxt.test_ccxt_adapter import DictVault
from tests.stubs.binance import BinanceStub, bench_credentials
from tests.stubs.binance_user_stream import BinanceUserStream

from mimic.adapters.ccxt import CcxtGateways
from mimic.adapters.ccxt.account_stream import CcxtAccountStream
from mimic.adapters.ccxt.budget import WeightBudget
from mimic.adapters.memory.streamed_accounts import InMemoryStreamedAccounts
from mimic.domain.accounts import ApiCredentials, ExchangeAccount
from mimic.ports.streamed_accounts import StreamedAccounts

CONCURRENCY = 64
SYMBOL = "BTCUSDT"


async def plan(
    stub: BinanceStub,
    vault: DictVault,
    accounts: list[ExchangeAccount],
    streamed: StreamedAccounts | None,
) -> tuple[int, int]:
    """(weight, positionRisk reads) one signal's planning costs."""
    gateways = CcxtGateways(
        vault,
        api_origins={"binanceusdm": stub.base_url},
        max_clients=len(accounts),
        budgets={"binanceusdm": WeightBudget(10**9)},
        streamed=streamed,
    )
    await (await gateways.for_account(accounts[0])).market_rules(SYMBOL)  # markets loaded
    first = len(stub.requests)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(account: ExchangeAccount) -> None:
        async with gate:
            gateway = await gateways.for_account(account)
            await gateway.fetch_snapshot(SYMBOL, with_balance=True)

    await asyncio.gather(*(one(a) for a in accounts))
    await gateways.aclose()
    planned = stub.requests[first:]
    reads = sum(1 for r in planned if r.path == "/fapi/v2/positionRisk")
    return sum(r.weight for r in planned), reads


async def main(count: int) -> None:
    async with BinanceUserStream() as stub:
        credentials = list(bench_credentials(count))
        for key, secret in credentials:
            stub.add_account(key, secret, wallet=Decimal(10_000))
        now = datetime.now(UTC)
        accounts = [
            ExchangeAccount(f"acc-{i:05d}", f"u{i}", "binanceusdm", "bench", now)
            for i in range(count)
        ]
        vault = DictVault(
            {a.id: ApiCredentials(k, s) for a, (k, s) in zip(accounts, credentials, strict=True)}
        )
        state = InMemoryStreamedAccounts()
        streams = CcxtAccountStream(
            vault, FixedClock(), api_origins={"binanceusdm": stub.base_url}, streamed=state
        )

        async def hold(account: ExchangeAccount) -> None:
            async for _ in streams.events(account):
                pass

        holders = [asyncio.create_task(hold(a)) for a in accounts]
        for _ in range(1200):  # every state seeded, within two minutes
            if all([await state.read(a.id, SYMBOL) for a in accounts]):
                break
            await asyncio.sleep(0.1)
        before, reads_before = await plan(stub, vault, accounts, None)
        after, reads_after = await plan(stub, vault, accounts, state)
        for task in holders:
            task.cancel()
        await asyncio.gather(*holders, return_exceptions=True)
        await streams.aclose()
    print(
        f"weight accounts={count} rest_weight_before={before} after={after} "
        f"position_reads_before={reads_before} after={reads_after}",
        flush=True,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    asyncio.run(main(parser.parse_args().accounts))
