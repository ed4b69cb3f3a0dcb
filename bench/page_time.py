"""Server time of the dashboard and the order and trade history with 10,000 orders.

One follower (approved paper connection) has N orders and N fills (N/2 closed trades). Each
page is asked R times over HTTP on one connection (the app in this process on uvicorn's
loop); the median is printed with the median of GET /health, the same app's cheapest
answer, as the floor. On SQLite, or with --postgres on a fresh database on the local server:
    page_time db=D orders=N dashboard_ms=.. orders_ms=.. orders_filtered_ms=.. trades_ms=..
    health_ms=H ratio=max/H
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import drop_database, execute_as_admin, postgres_url_for
from tests.integration.harness import FOLLOWER_PASSWORD, make_settings
from tests.integration.served import served_platform

from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.sqlalchemy.order_intents import SqlOrderIntentRepository
from mimic.adapters.sqlalchemy.performance import SqlFillRepository
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg, OrderSide
from mimic.domain.performance import AccountFill

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT")
STATUSES = (IntentStatus.FILLED, IntentStatus.FILLED, IntentStatus.REJECTED, IntentStatus.SKIPPED)


async def seed_orders(database_url: str, user_id: str, account_id: str, count: int) -> None:
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    start = datetime.now(UTC) - timedelta(days=60)
    orders = [
        OrderIntent(
            id=uuid.uuid4().hex,
            signal_id=None,
            account_id=account_id,
            user_id=user_id,
            leg=OrderLeg.ENTRY,
            symbol=SYMBOLS[n % len(SYMBOLS)],
            side=OrderSide.BUY,
            quantity=Decimal("0.001"),
            reduce_only=False,
            leverage=5,
            client_order_id=f"mimic-bench-{n}",
            created_at=start + timedelta(minutes=n),
            status=STATUSES[n % len(STATUSES)],
            reason="bench",
        )
        for n in range(count)
    ]
    async with sessions() as session:
        repo = SqlOrderIntentRepository(session)
        for begin in range(0, count, 1000):
            await repo.add_new(orders[begin : begin + 1000])
        await session.commit()
    await engine.dispose()


async def seed_fills(database_url: str, user_id: str, account_id: str, count: int) -> None:
    """Round trips of 0.001 BTC: a buy, then a sell 10 USDT higher."""
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    start = datetime.now(UTC) - timedelta(days=60)
    fills = [
        (
            account_id,
            user_id,
            AccountFill(
                fill_id=f"bench-{n}",
                symbol=SYMBOLS[(n // 2) % len(SYMBOLS)],
                side=OrderSide.BUY if n % 2 == 0 else OrderSide.SELL,
                quantity=Decimal("0.001"),
                price=Decimal(65000 + 10 * (n % 2)),
                fee=Decimal("0.026"),
                realized_pnl=None,
                executed_at=start + timedelta(minutes=n),
            ),
        )
        for n in range(count)
    ]
    async with sessions() as session:
        await SqlFillRepository(session).add_new(fills)
        await session.commit()
    await engine.dispose()


@asynccontextmanager
async def fresh_database(postgres: bool) -> AsyncIterator[str]:
    if not postgres:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/mimic.db"
        return
    name = f"mimic_page_time_{uuid.uuid4().hex[:12]}"
    await execute_as_admin(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url_for(name)
    finally:
        await drop_database(name)


async def median_ms(
    client: httpx.AsyncClient, path: str, rounds: int, headers: dict[str, str]
) -> float:
    times = []
    for _ in range(rounds + 3):  # the first few warm up
        started = time.perf_counter()
        response = await client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times[3:])


async def main(count: int, rounds: int, postgres: bool) -> None:
    async with (
        fresh_database(postgres) as database_url,
        served_platform(make_settings(database_url)) as served,
    ):
        client = served.client
        admin = {"Authorization": f"Bearer {await served.admin_token()}"}
        await client.put("/api/admin/paper/prices/BTCUSDT", json={"price": "65000"}, headers=admin)
        await client.post(
            "/api/auth/register",
            json={"username": "ann", "email": "ann@example.com", "password": FOLLOWER_PASSWORD},
        )
        login = await client.post(
            "/api/auth/login", json={"username": "ann", "password": FOLLOWER_PASSWORD}
        )
        client.cookies.clear()
        me = {"Authorization": f"Bearer {login.json()['access_token']}"}
        account = (
            await client.post("/api/exchanges", json={"exchange": "paper"}, headers=me)
        ).json()
        await client.post(f"/api/admin/exchanges/{account['id']}/approve", headers=admin)
        user_id = (await client.get("/api/me", headers=me)).json()["id"]
        await seed_orders(database_url, user_id, account["id"], count)
        await seed_fills(database_url, user_id, account["id"], count)
        dashboard = await median_ms(client, "/dashboard", rounds, me)
        orders = await median_ms(client, "/orders?offset=200", rounds, me)
        filtered = await median_ms(client, "/orders?status=rejected&symbol=ETHUSDT", rounds, me)
        trades = await median_ms(client, "/trades?offset=200", rounds, me)
        health = await median_ms(client, "/health", rounds, {})
    slowest = max(dashboard, orders, filtered, trades)
    print(
        f"page_time db={'postgres' if postgres else 'sqlite'} orders={count} "
        f"dashboard_ms={dashboard:.1f} orders_ms={orders:.1f} orders_filtered_ms={filtered:.1f} "
        f"trades_ms={trades:.1f} health_ms={health:.1f} ratio={slowest / health:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--postgres", action="store_true", help="the local Postgres server")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.orders, arguments.rounds, arguments.postgres))
