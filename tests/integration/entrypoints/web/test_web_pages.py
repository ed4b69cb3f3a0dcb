"""The web pages over HTTP: who may open what, the order history's filters and CSV export."""

import csv
import io
import uuid
from datetime import timedelta

from mimic.application.signal_planning import COPYING_PAUSED_REASON
from tests.fakes.services import START, FixedClock, RecordingNotifier
from tests.integration.harness import ClockAndNotifier, make_settings, running_platform


async def test_pages_send_strangers_to_sign_in_and_followers_away_from_the_console(
    sqlite_url: str,
) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        for path in ("/dashboard", "/orders", "/admin", "/messages"):
            response = await api.client.get(path, follow_redirects=False)
            assert (response.status_code, response.headers["location"]) == (302, "/login"), path
        token = await api.register("ann")
        response = await api.client.get("/admin/users", headers=api.auth(token))
        assert response.status_code == 403
        assert "This page is for admins" in response.text
        page = await api.client.get("/login")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy
        assert "unsafe-inline" not in policy
        docs = await api.client.get("/schema/swagger")
        assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
        assert "cdn.jsdelivr.net" not in docs.text
        assert "unpkg.com" not in docs.text


async def test_order_history_filters_pages_and_exports_what_it_shows(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        await api.set_price("BTCUSDT", "65000")
        await api.set_price("ETHUSDT", "3000")
        token, _ = await api.follower("ann")
        for symbol in ("BTCUSDT", "ETHUSDT"):
            sent = await api.signal(symbol=symbol, action="long")
            await api.settled_report(sent["signal_id"])
        me = api.auth(token)

        everything = await api.client.get("/orders", headers=me)
        only_eth = await api.client.get("/orders?symbol=ethusdt&status=filled", headers=me)
        none = await api.client.get("/orders?status=rejected", headers=me)
        wrong = await api.client.get("/orders?status=lost", headers=me)
        export = await api.client.get("/orders/export.csv?symbol=ETHUSDT", headers=me)

        assert everything.text.count('<span class="pill filled">') == 2
        assert only_eth.text.count('<span class="pill filled">') == 1
        assert "No order for this filter." in none.text
        assert wrong.status_code == 422
        assert wrong.json()["field"] == "status"
        assert export.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert [(r["symbol"], r["status"], r["leg"]) for r in rows] == [
            ("ETHUSDT", "filled", "entry")
        ]


async def test_the_console_names_people_and_pauses_copying_for_everyone(
    database_url: str,
) -> None:
    async with running_platform(make_settings(database_url)) as api:
        await api.set_price("BTCUSDT", "65000")
        await api.set_price("ETHUSDT", "3000")
        ann, _ = await api.follower("ann")
        bob = await api.register("bob")
        await api.client.post("/api/exchanges", json={"exchange": "paper"}, headers=api.auth(bob))
        admin = api.auth(api.admin_token)
        copied = await api.signal(symbol="BTCUSDT", action="long")
        await api.settled_report(copied["signal_id"])

        pending = await api.client.get("/admin/connections", headers=admin)
        outcomes = await api.client.get(f"/admin/signals/{copied['signal_id']}", headers=admin)
        assert '?q=bob" title="' in pending.text
        assert '?q=ann" title="' in outcomes.text

        refused = await api.client.post("/api/admin/copying/pause", headers=api.auth(ann))
        assert refused.status_code == 403
        paused = await api.client.post("/api/admin/copying/pause", headers=admin)
        assert paused.json() == {"copying_paused": True}
        held = await api.signal(symbol="ETHUSDT", action="long")
        report = await api.settled_report(held["signal_id"])
        assert [(a["status"], a["reason"]) for a in report["accounts"]] == [
            ("skipped", COPYING_PAUSED_REASON)
        ]
        overview = await api.client.get("/admin", headers=admin)
        assert '<span id="signals-total">2</span>' in overview.text
        assert '<div class="stat" id="followers-copying">1</div>' in overview.text  # ann
        assert overview.text.count("<rect ") == 24
        settings_page = await api.client.get("/admin/settings", headers=admin)
        assert "Resume copying" in settings_page.text
        audit = await api.client.get("/admin/audit?action=copying.paused", headers=admin)
        assert audit.text.count("<td>copying.paused</td>") == 1
        assert '?q=admin" title="' in audit.text
        by_name = await api.client.get("/admin/audit?actor_id=admin", headers=admin)
        by_other = await api.client.get("/admin/audit?actor_id=ann", headers=admin)
        assert "<td>copying.paused</td>" in by_name.text
        assert "<td>copying.paused</td>" not in by_other.text
        resumed = await api.client.post("/api/admin/copying/resume", headers=admin)
        assert resumed.json() == {"copying_paused": False}

        # One follower's own pause: the users page offers the opposite of their state.
        before = await api.client.get("/admin/users?q=ann", headers=admin)
        assert 'aria-label="Pause copying for ann"' in before.text
        ann_id = (await api.client.get("/api/me", headers=api.auth(ann))).json()["id"]
        paused_ann = await api.client.patch(
            f"/api/admin/users/{ann_id}", json={"paused": True}, headers=admin
        )
        assert paused_ann.status_code == 200, paused_ann.text
        after = await api.client.get("/admin/users?q=ann", headers=admin)
        assert 'aria-label="Resume copying for ann"' in after.text


async def test_trade_history_filters_pages_and_exports_what_it_shows(database_url: str) -> None:
    clock = FixedClock(START)
    settings = make_settings(database_url, portfolio_sync_interval=timedelta(hours=1))
    async with running_platform(settings, ClockAndNotifier(clock, RecordingNotifier())) as api:
        await api.set_price("BTCUSDT", "65000")
        await api.set_price("ETHUSDT", "3000")
        token, _ = await api.follower("ann")
        for symbol, action in (("BTCUSDT", "long"), ("ETHUSDT", "short")):
            for step in (action, "close"):
                clock.advance(timedelta(minutes=5))
                sent = await api.signal(id=uuid.uuid4().hex, symbol=symbol, action=step)
                await api.settled_report(sent["signal_id"])
        synced = await api.client.post(
            "/api/admin/portfolio/sync", headers=api.auth(api.admin_token)
        )
        assert synced.status_code == 200, synced.text
        me = api.auth(token)

        everything = await api.client.get("/trades", headers=me)
        shorts = await api.client.get("/trades?side=short", headers=me)
        none = await api.client.get("/trades?symbol=dogeusdt", headers=me)
        wrong = await api.client.get("/trades?side=sideways", headers=me)
        export = await api.client.get("/trades/export.csv?symbol=btcusdt", headers=me)

        assert everything.text.count("<td>BTCUSDT</td>") == 1
        assert everything.text.count("<td>ETHUSDT</td>") == 1
        assert "<td>ETHUSDT</td><td>short</td>" in shorts.text
        assert "<td>BTCUSDT</td>" not in shorts.text
        assert "No closed trade for this filter." in none.text
        assert (wrong.status_code, wrong.json()["field"]) == (422, "side")
        assert export.headers["content-disposition"] == 'attachment; filename="mimic-trades.csv"'
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert [(r["symbol"], r["side"], r["entry_price"]) for r in rows] == [
            ("BTCUSDT", "long", "65000")
        ]

        # Trades are kept per follower between requests: a new fill shows at once.
        for step in ("long", "close"):
            clock.advance(timedelta(minutes=5))
            sent = await api.signal(id=uuid.uuid4().hex, symbol="BTCUSDT", action=step)
            await api.settled_report(sent["signal_id"])
        synced = await api.client.post(
            "/api/admin/portfolio/sync", headers=api.auth(api.admin_token)
        )
        # The account stream may have recorded either fill first: the sync adds the rest.
        assert synced.status_code == 200, synced.text
        again = await api.client.get("/trades", headers=me)
        assert again.text.count("<td>BTCUSDT</td>") == 2


async def test_the_fidelity_widget_shows_a_follower_their_own_and_an_admin_every_follower(
    database_url: str,
) -> None:
    async with running_platform(make_settings(database_url)) as api:
        await api.set_price("BTCUSDT", "65000")
        ann, _ = await api.follower("ann")
        await api.follower("bob")
        signal_id = (await api.signal(symbol="BTCUSDT", action="long"))["signal_id"]
        await api.settled_report(signal_id)

        dashboard = await api.client.get("/dashboard", headers=api.auth(ann))
        own = await api.client.get("/fidelity?period=7d", headers=api.auth(ann))
        console = await api.client.get("/admin", headers=api.auth(api.admin_token))
        every = await api.client.get("/fidelity?period=30d", headers=api.auth(api.admin_token))
        wrong = await api.client.get("/fidelity?period=1y", headers=api.auth(ann))
        outcomes = await api.client.get(
            f"/admin/signals/{signal_id}", headers=api.auth(api.admin_token)
        )

        assert 'hx-get="/fidelity?period=7d"' in dashboard.text
        assert 'hx-get="/fidelity?period=7d"' in console.text
        assert own.status_code == 200
        assert own.text.count("<td>You</td>") == 1
        assert "bob" not in own.text
        assert 'id="fidelity-platform"' in own.text
        assert "<td>ann</td>" in every.text
        assert "<td>bob</td>" in every.text
        assert wrong.status_code == 422
        # Per account: the paper exchange filled at the reference, 65000.
        assert "reference 65000" in outcomes.text
        assert outcomes.text.count('<td class="num">+0.00<br></td>') == 2
