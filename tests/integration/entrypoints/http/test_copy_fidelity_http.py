"""Copy fidelity over HTTP on the paper exchange, on SQLite and Postgres: a signal fills,
its report shows each follower their own latency and slippage, and /api/fidelity
aggregates a period."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from mimic.adapters.sqlalchemy.engine import create_engine
from mimic.adapters.sqlalchemy.tables import order_intents, signals
from tests.integration.harness import Api, make_settings, running_platform


async def fidelity(api: Api, token: str, query: str = "period=7d") -> Any:
    response = await api.client.get(f"/api/fidelity?{query}", headers=api.auth(token))
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_filled_signal_shows_each_follower_their_latency_and_slippage(
    database_url: str,
) -> None:
    async with running_platform(make_settings(database_url)) as api:
        await api.set_price("BTCUSDT", "65000")
        alice, alice_account = await api.follower("alice")
        bob, bob_account = await api.follower("bob")
        paused, _ = await api.follower("paused", paused=True)
        stranger = await api.register("stranger")  # no exchange connection
        signal_id = (await api.signal(symbol="BTCUSDT", action="long"))["signal_id"]
        report = await api.settled_report(signal_id)
        assert report["signal"]["reference_price"] == "65000"
        assert report["signal"]["reference_at"] >= report["signal"]["received_at"]

        response = await api.client.get(f"/api/signals/{signal_id}", headers=api.auth(alice))

        assert response.status_code == 200, response.text
        [account] = response.json()["accounts"]
        assert account["exchange_account_id"] == alice_account
        [copied] = account["copies"]
        # The paper exchange fills at the mark the fan-out read: no slippage.
        assert (copied["leg"], copied["side"], copied["reference_price"]) == (
            "entry",
            "buy",
            "65000",
        )
        assert (copied["fill_price"], copied["slippage_bps"]) == ("65000", "0.00")
        assert 0 <= copied["latency_ms"] < 30_000
        assert copied["acknowledged_at"] >= report["signal"]["received_at"]
        bobs = (await api.client.get(f"/api/signals/{signal_id}", headers=api.auth(bob))).json()
        assert [a["exchange_account_id"] for a in bobs["accounts"]] == [bob_account]
        missing = await api.client.get(f"/api/signals/{signal_id}", headers=api.auth(stranger))
        assert missing.status_code == 404
        listing = await api.client.get("/api/signals", headers=api.auth(alice))
        assert listing.status_code == 403  # the list stays the admins'

        for_alice = await fidelity(api, alice)

        assert [f["username"] for f in for_alice["followers"]] == ["alice"]
        assert for_alice["followers"][0]["fidelity"]["copies"] == 1
        platform = for_alice["platform"]
        assert (platform["copies"], platform["missed"]) == (2, 1)
        assert platform["missed_reasons"] == [
            {"reason": "copying is paused for this follower", "count": 1}
        ]
        for_admin = await fidelity(api, api.admin_token, "period=30d")
        assert sorted(f["username"] for f in for_admin["followers"]) == ["alice", "bob", "paused"]
        for_paused = await fidelity(api, paused)
        assert for_paused["followers"][0]["fidelity"]["missed"] == 1


async def test_a_periods_figures_are_computed_by_the_database_as_by_hand(
    database_url: str,
) -> None:
    async with running_platform(make_settings(database_url)) as api:
        await api.set_price("BTCUSDT", "65000")
        alice, alice_account = await api.follower("alice")
        _, bob_account = await api.follower("bob")
        signal_id = (await api.signal(symbol="BTCUSDT", action="long"))["signal_id"]
        report = await api.settled_report(signal_id)
        source_id = report["signal"]["source_id"]
        # The master's reference 64,935; each buy filled at 65,000: 65 / 64,935 x 10,000 =
        # 10.0100.. bps worse. Acknowledged 250 ms (alice) and 750 ms (bob) after receipt.
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                received = (
                    await connection.execute(
                        select(signals.c.received_at).where(signals.c.id == signal_id)
                    )
                ).scalar_one()
                await connection.execute(
                    update(signals)
                    .where(signals.c.id == signal_id)
                    .values(reference_price=Decimal(64935))
                )
                for account, delay in ((alice_account, 250), (bob_account, 750)):
                    await connection.execute(
                        update(order_intents)
                        .where(
                            order_intents.c.signal_id == signal_id,
                            order_intents.c.account_id == account,
                        )
                        .values(acknowledged_at=received + timedelta(milliseconds=delay))
                    )
        finally:
            await engine.dispose()

        figures = await fidelity(api, api.admin_token, f"period=7d&source={source_id}")

        platform = figures["platform"]
        assert (platform["latency_p50_ms"], platform["latency_p95_ms"]) == (250, 750)
        assert platform["latency_p99_ms"] == 750
        assert (platform["slippage_mean_bps"], platform["slippage_p95_bps"]) == ("10.01", "10.01")
        by_name = {f["username"]: f["fidelity"] for f in figures["followers"]}
        assert by_name["alice"]["latency_p50_ms"] == 250
        assert by_name["bob"]["latency_p50_ms"] == 750
        detail = (await api.client.get(f"/api/signals/{signal_id}", headers=api.auth(alice))).json()
        [copied] = detail["accounts"][0]["copies"]
        assert (copied["latency_ms"], copied["slippage_bps"]) == (250, "10.01")


async def test_bad_fidelity_questions_are_refused(sqlite_url: str) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        cases = [("period=1y", 422, "period"), ("period=7d&source=nope", 422, "source")]
        for query, status, field in cases:
            response = await api.client.get(
                f"/api/fidelity?{query}", headers=api.auth(api.admin_token)
            )
            assert response.status_code == status, response.text
            assert response.json()["field"] == field
        assert (await api.client.get("/api/fidelity?period=7d")).status_code == 401
        assert (await api.client.get("/api/signals/nope")).status_code == 401
        missing = await api.client.get("/api/signals/nope", headers=api.auth(api.admin_token))
        assert missing.status_code == 404
