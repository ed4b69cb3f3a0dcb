"""The whole pipeline over HTTP: webhook -> stored signal -> worker -> paper orders."""

import asyncio
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from mimic.adapters.sqlalchemy.engine import create_engine
from mimic.adapters.sqlalchemy.tables import order_intents, signals
from tests.integration.harness import PASSPHRASE, Api, make_settings, running_platform


async def test_one_alert_becomes_orders_on_every_follower(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        await api.set_price("BTCUSDT", "65000")
        alice, alice_acc = await api.follower("alice")
        bob, bob_acc = await api.follower("bob", risk_perc="2", leverage=10)
        carol, carol_acc = await api.follower("carol", paused=True)

        # TradingView posts JSON as text/plain when the alert text is JSON.
        response = await api.client.post(
            "/webhook",
            content=json.dumps(
                {"passphrase": PASSPHRASE, "symbol": "BINANCE:BTCUSDT.P", "action": "long"}
            ),
            headers={"Content-Type": "text/plain"},
        )
        assert response.status_code == 202, response.text
        assert response.json()["duplicate"] is False
        report = await api.settled_report(response.json()["signal_id"])

        assert report["signal"]["symbol"] == "BTCUSDT"
        outcomes = {a["exchange_account_id"]: a for a in report["accounts"]}
        assert outcomes[alice_acc]["status"] == "filled"
        assert outcomes[bob_acc]["status"] == "filled"
        assert outcomes[carol_acc]["status"] == "skipped"
        assert "paused" in outcomes[carol_acc]["reason"]

        # Defaults risk 1 %, leverage 5: 10000 x 1 % x 5 / 65000 = 0.00769.. -> 0.007 BTC.
        alice_orders = (await api.client.get("/api/orders", headers=api.auth(alice))).json()
        assert [(o["side"], o["quantity"], o["status"]) for o in alice_orders] == [
            ("buy", "0.007", "filled")
        ]
        # Bob's own 2 % x 10: 10000 x 2 % x 10 / 65000 = 0.03076.. -> 0.030 BTC.
        bob_positions = (await api.client.get("/api/positions", headers=api.auth(bob))).json()
        assert [(p["symbol"], p["side"], p["quantity"], p["leverage"]) for p in bob_positions] == [
            ("BTCUSDT", "long", "0.03", 10)
        ]
        assert Decimal(bob_positions[0]["entry_price"]) == Decimal(65000)
        assert (await api.client.get("/api/positions", headers=api.auth(carol))).json() == []

        await api.set_price("BTCUSDT", "66000")
        closing = await api.signal(symbol="BTCUSDT", action="close")
        report = await api.settled_report(closing["signal_id"])
        outcomes = {a["exchange_account_id"]: a for a in report["accounts"]}
        assert outcomes[alice_acc]["status"] == "filled"
        assert outcomes[carol_acc]["status"] == "skipped"
        assert outcomes[carol_acc]["reason"] == "no open position to close"
        close_order = outcomes[bob_acc]["orders"][0]
        assert (close_order["side"], close_order["quantity"], close_order["reduce_only"]) == (
            "sell",
            "0.03",
            True,
        )
        assert (await api.client.get("/api/positions", headers=api.auth(bob))).json() == []
        balance = (await api.client.get("/api/balance", headers=api.auth(bob))).json()
        # +1000 x 0.03 realised, minus taker fees 0.04 % of 1950 and of 1980.
        expected = Decimal(10000) + Decimal(30) - Decimal("0.78") - Decimal("0.792")
        assert Decimal(balance[0]["wallet_balance"]) == expected


async def test_bad_webhooks_are_refused_and_store_nothing(sqlite_url: str) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        cases = [
            ({"passphrase": "wrong", "symbol": "BTCUSDT", "action": "long"}, 401, None),
            ({"symbol": "BTCUSDT", "action": "long"}, 401, None),
            ({"passphrase": PASSPHRASE, "symbol": "BTCUSDT", "action": "hold"}, 422, "action"),
            ({"passphrase": PASSPHRASE, "action": "long"}, 422, "symbol"),
            ({"passphrase": PASSPHRASE, "symbol": "NOPEUSDT", "action": "long"}, 422, "symbol"),
            (
                {"passphrase": PASSPHRASE, "symbol": "BTCUSDT", "action": "long", "risk_perc": 0},
                422,
                "risk_perc",
            ),
            (
                {"passphrase": PASSPHRASE, "symbol": "BTCUSDT", "action": "long", "leverage": 500},
                422,
                "leverage",
            ),
        ]
        for payload, status, field in cases:
            response = await api.client.post("/webhook", json=payload)
            assert response.status_code == status, (payload, response.text)
            body = response.json()
            assert body["status_code"] == status
            if field is not None:
                assert body["field"] == field
                assert field in body["detail"]

        response = await api.client.post("/webhook", content=b"{not json")
        assert response.status_code == 400
        assert "neither JSON nor KEY=VALUE" in response.json()["detail"]
        response = await api.client.post("/webhook", content=b"[1, 2]")
        assert response.status_code == 400
        big = b'{"passphrase": "%s", "pad": "%s"}' % (PASSPHRASE.encode(), b"x" * 70_000)
        response = await api.client.post("/webhook", content=big)
        assert response.status_code == 413

        signals = await api.client.get("/api/signals", headers=api.auth(api.admin_token))
        assert signals.json() == []


async def test_ten_concurrent_identical_webhooks_make_one_signal(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        payload = {"passphrase": PASSPHRASE, "symbol": "ETHUSDT", "action": "short"}
        responses = await asyncio.gather(
            *(api.client.post("/webhook", json=payload) for _ in range(10))
        )
        assert sorted(r.status_code for r in responses) == [200] * 9 + [202]
        ids = {r.json()["signal_id"] for r in responses}
        assert len(ids) == 1
        assert sum(r.json()["duplicate"] for r in responses) == 9
        signals = await api.client.get("/api/signals", headers=api.auth(api.admin_token))
        assert [s["id"] for s in signals.json()] == list(ids)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/signals"),
        ("GET", "/api/admin/exchanges"),
        ("POST", "/api/admin/exchanges/abc/approve"),
        ("GET", "/api/admin/settings"),
        ("PUT", "/api/admin/paper/prices/BTCUSDT"),
    ],
)
async def test_admin_routes_need_an_admin(sqlite_url: str, method: str, path: str) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        user, _ = await api.follower("mallory")
        assert (await api.client.request(method, path)).status_code == 401
        response = await api.client.request(method, path, headers=Api.auth(user), json={})
        assert response.status_code == 403


async def test_stopping_the_embedded_platform_lets_a_running_fan_out_finish(
    database_url: str,
) -> None:
    # Every paper order waits 0.5 s: the platform stops while they are in flight.
    settings = make_settings(database_url, paper_latency=timedelta(milliseconds=500))
    async with running_platform(settings) as api:
        await api.set_price("BTCUSDT", "65000")
        for name in ("ann", "ben"):
            await api.follower(name)
        response = await api.signal(symbol="BTCUSDT", action="long")
        signal_id = response["signal_id"]
        await asyncio.sleep(0.2)

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            status = (
                await connection.execute(select(signals.c.status).where(signals.c.id == signal_id))
            ).scalar_one()
            outcomes = (
                await connection.execute(
                    select(order_intents.c.status).where(order_intents.c.signal_id == signal_id)
                )
            ).scalars()
            assert (status, sorted(outcomes)) == ("done", ["filled", "filled"])
    finally:
        await engine.dispose()
