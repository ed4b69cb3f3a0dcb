"""Server time of the dashboard and the order history with 10,000 orders in the history.

One follower (approved paper connection, an open position) has N orders. Each page is asked
R times over HTTP on one connection (the app in this process on uvicorn's loop); the median
is printed with the median of GET /health, the same app's cheapest answer, as the floor:
    page_time orders=N dashboard_ms=D orders_ms=O orders_filtered_ms=F health_ms=H ratio=max/H
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.harness import FOLLOWER_PASSWORD, make_settings
from tests.integration.served import served_platform

from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.sqlalchemy.repositories import SqlOrderIntentRepository
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg, OrderSide

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


async def main(count: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite+aiosqlite:///{tmp}/mimic.db"
        async with served_platform(make_settings(database_url)) as served:
            client = served.client
            admin = {"Authorization": f"Bearer {await served.admin_token()}"}
            await client.put(
                "/api/admin/paper/prices/BTCUSDT", json={"price": "65000"}, headers=admin
            )
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
            dashboard = await median_ms(client, "/dashboard", rounds, me)
            orders = await median_ms(client, "/orders?offset=200", rounds, me)
            filtered = await median_ms(client, "/orders?status=rejected&symbol=ETHUSDT", rounds, me)
            health = await median_ms(client, "/health", rounds, {})
    slowest = max(dashboard, orders, filtered)
    print(
        f"page_time orders={count} dashboard_ms={dashboard:.1f} orders_ms={orders:.1f} "
        f"orders_filtered_ms={filtered:.1f} health_ms={health:.1f} ratio={slowest / health:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.orders, arguments.rounds))
