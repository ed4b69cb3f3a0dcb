"""Trades and the leaderboard carry the source of the signal that opened each trade, and
filter by it, over HTTP on the paper exchange."""

from datetime import timedelta
from typing import Any

from tests.fakes.services import FixedClock, RecordingNotifier
from tests.integration.entrypoints.http.test_guardrails_portfolio import (
    MORNING,
    get,
    platform,
    sync,
)
from tests.integration.entrypoints.http.test_source_follows_http import alert, new_source
from tests.integration.harness import PASSPHRASE, Api, make_settings, running_platform


async def default_source(api: Api) -> str:
    listed = await get(api, "/api/admin/sources", api.admin_token)
    return next(s["id"] for s in listed if s["name"] == "default")


async def refused(api: Api, path: str, token: str | None = None, **params: Any) -> str:
    headers = api.auth(token) if token else {}
    response = await api.client.get(path, headers=headers, params=params)
    assert response.status_code == 422, response.text
    return str(response.json()["field"])


async def test_trades_and_the_leaderboard_carry_and_filter_by_source(database_url: str) -> None:
    clock = FixedClock(MORNING)
    async with platform(database_url, clock, RecordingNotifier()) as api:
        await api.set_price("BTCUSDT", "65000")
        await api.set_price("ETHUSDT", "3000")
        swing, swing_passphrase = await new_source(api, "Swing")
        default = await default_source(api)
        bob, _ = await api.follower("bob")  # chooses nothing: follows every source
        ann, _ = await api.follower("ann")
        chosen = await api.client.put(
            "/api/me/sources", json=[{"source_id": default}], headers=api.auth(ann)
        )
        assert chosen.status_code == 200, chosen.text

        await alert(api, PASSPHRASE, "BTCUSDT", "long")
        await alert(api, swing_passphrase, "ETHUSDT", "long")
        clock.advance(timedelta(minutes=10))
        await api.set_price("BTCUSDT", "66000")
        await api.set_price("ETHUSDT", "2900")
        await alert(api, PASSPHRASE, "BTCUSDT", "close")
        await alert(api, swing_passphrase, "ETHUSDT", "close")
        assert (await sync(api))["fills"] == 6

        trades = await get(api, "/api/trades", bob)
        assert {(t["symbol"], t["source_id"], t["source_name"]) for t in trades} == {
            ("BTCUSDT", default, "default"),
            ("ETHUSDT", swing, "Swing"),
        }
        [eth] = await get(api, "/api/trades", bob, source=swing)
        assert (eth["symbol"], eth["source_name"]) == ("ETHUSDT", "Swing")
        [btc] = await get(api, "/api/trades", bob, source=default)
        assert btc["symbol"] == "BTCUSDT"
        assert await get(api, "/api/trades", ann, source=swing) == []
        assert await refused(api, "/api/trades", bob, source="no-such-source") == "source"

        board = await get(api, "/api/leaderboard", period="all")
        assert {(e["username"], e["trades"]) for e in board["entries"]} == {("bob", 2), ("ann", 1)}
        # Over Swing's trades only: ann copied none of them, bob lost on ETH.
        board = await get(api, "/api/leaderboard", period="all", source=swing)
        [only] = board["entries"]
        assert (only["username"], only["trades"], only["win_rate_perc"]) == ("bob", 1, "0")
        assert only["pnl"].startswith("-")
        board = await get(api, "/api/leaderboard", period="all", source=default)
        assert {(e["username"], e["trades"]) for e in board["entries"]} == {("bob", 1), ("ann", 1)}
        assert await refused(api, "/api/leaderboard", source="no-such-source") == "source"

        export = await api.client.get("/trades/export.csv", headers=api.auth(bob))
        assert export.status_code == 200, export.text
        header, *rows = export.text.splitlines()
        assert header.endswith("exchange_account_id,source_id,source_name")
        assert sorted(row.rsplit(",", 1)[1] for row in rows) == ["Swing", "default"]
        swing_only = await api.client.get(
            f"/trades/export.csv?source={swing}", headers=api.auth(bob)
        )
        assert [row.rsplit(",", 1)[1] for row in swing_only.text.splitlines()[1:]] == ["Swing"]
        page = await api.client.get("/trades", params={"source": swing}, headers=api.auth(bob))
        assert "<td>ETHUSDT</td>" in page.text
        assert "<td>BTCUSDT</td>" not in page.text
        assert f'<option value="{swing}" selected>Swing</option>' in page.text


async def test_signals_and_orders_filter_by_source(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        await api.set_price("BTCUSDT", "65000")
        await api.set_price("ETHUSDT", "3000")
        swing, swing_passphrase = await new_source(api, "Swing")
        default = await default_source(api)
        bob, _ = await api.follower("bob")
        await alert(api, PASSPHRASE, "BTCUSDT", "long")
        await alert(api, swing_passphrase, "ETHUSDT", "long")

        [signal] = await get(api, "/api/signals", api.admin_token, source=swing)
        assert (signal["symbol"], signal["source_name"]) == ("ETHUSDT", "Swing")
        assert len(await get(api, "/api/signals", api.admin_token)) == 2
        assert await refused(api, "/api/signals", api.admin_token, source="gone") == "source"

        orders = await get(api, "/api/orders", bob)
        assert {(o["symbol"], o["source_id"], o["source_name"]) for o in orders} == {
            ("BTCUSDT", default, "default"),
            ("ETHUSDT", swing, "Swing"),
        }
        only = await get(api, "/api/orders", bob, source=swing)
        assert {o["symbol"] for o in only} == {"ETHUSDT"}
        assert await refused(api, "/api/orders", bob, source="gone") == "source"
