"""Daily guardrails, the pre-flight preview, trades, balance history and the leaderboard,
over HTTP on the paper exchange, with prices driven step by step and the clock injected."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.fakes.services import FixedClock, RecordingNotifier
from tests.integration.harness import Api, ClockAndNotifier, make_settings, running_platform

MORNING = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def platform(database_url: str, clock: FixedClock, notifier: RecordingNotifier) -> Any:
    # No background sync during a test: the test runs it through the admin endpoint. Nor
    # account streams, which would store the fills first (test_account_events has them).
    settings = make_settings(
        database_url, portfolio_sync_interval=timedelta(hours=1), account_streams=False
    )
    return running_platform(settings, ClockAndNotifier(clock, notifier))


async def signal(api: Api, **payload: Any) -> dict[str, Any]:
    """Sends an alert (a unique id, so no two are one) and waits for the fan-out."""
    accepted = await api.signal(id=uuid.uuid4().hex, **payload)
    report = await api.settled_report(accepted["signal_id"])
    return {a["exchange_account_id"]: a for a in report["accounts"]}


async def sync(api: Api) -> dict[str, Any]:
    response = await api.client.post("/api/admin/portfolio/sync", headers=api.auth(api.admin_token))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def get(api: Api, path: str, token: str | None = None, **params: Any) -> Any:
    headers = api.auth(token) if token else {}
    response = await api.client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_drawdown_stop_skips_entries_lets_closes_through_until_the_next_utc_day(
    database_url: str,
) -> None:
    clock, notifier = FixedClock(MORNING), RecordingNotifier()
    async with platform(database_url, clock, notifier) as api:
        await api.set_price("BTCUSDT", "50000")
        token, account = await api.follower(
            "alice", risk_perc="10", leverage=10, drawdown_stop_perc="5"
        )
        # 10000 x 10 % x 10 / 50000 = 0.2 BTC; fee 0.04 % of 10000 = 4.
        assert (await signal(api, symbol="BTCUSDT", action="long"))[account]["status"] == "filled"

        # 47000: unrealized (47000 - 50000) x 0.2 = -600; equity 9996 - 600 = 9396, which
        # is 6.04 % below the day's start of 10000 (the first equity seen today).
        clock.advance(timedelta(minutes=5))
        await api.set_price("BTCUSDT", "47000")
        flip = (await signal(api, symbol="BTCUSDT", action="short"))[account]
        legs = {o["leg"]: o for o in flip["orders"]}
        assert legs["close"]["status"] == "filled"  # a close always goes through
        assert legs["close"]["reduce_only"] is True
        assert legs["entry"]["status"] == "skipped"
        reason = legs["entry"]["reason"]
        assert reason.startswith(
            "daily drawdown stop: equity 9,396.00 is 6.04% below today's start 10,000.00"
        )
        assert flip["status"] == "skipped"
        assert await get(api, "/api/positions", token) == []
        tripped = [(u, e) for u, e, _ in notifier.about("guardrail.")]
        assert tripped == [(flip["user_id"], "guardrail.tripped")]

        # Prices recover, but the stop holds for the rest of the UTC day.
        await api.set_price("BTCUSDT", "60000")
        clock.set(datetime(2024, 5, 1, 23, 59, 59, tzinfo=UTC))
        again = (await signal(api, symbol="BTCUSDT", action="long"))[account]
        assert (again["status"], again["reason"]) == ("skipped", reason)
        [status] = await get(api, "/api/guardrails", token)
        assert (status["day"], status["tripped"], status["reason"]) == (
            "2024-05-01",
            "drawdown_stop",
            reason,
        )
        assert Decimal(status["start_equity"]) == Decimal(10000)

        # 00:00:00 UTC: a new day, entries work again.
        clock.set(datetime(2024, 5, 2, 0, 0, 0, tzinfo=UTC))
        next_day = (await signal(api, symbol="BTCUSDT", action="long"))[account]
        assert next_day["status"] == "filled"
        [status] = await get(api, "/api/guardrails", token)
        assert (status["day"], status["tripped"]) == ("2024-05-02", None)
        assert len(notifier.about("guardrail.")) == 1


async def test_a_drawdown_stop_with_close_all_closes_positions_once(database_url: str) -> None:
    clock, notifier = FixedClock(MORNING), RecordingNotifier()
    async with platform(database_url, clock, notifier) as api:
        await api.set_price("BTCUSDT", "50000")
        await api.set_price("ETHUSDT", "2500")
        token, account = await api.follower(
            "bob", risk_perc="5", leverage=10, drawdown_stop_perc="3", close_all_on_drawdown=True
        )
        await sync(api)  # the day's first observation: equity 10000
        for symbol in ("BTCUSDT", "ETHUSDT"):
            clock.advance(timedelta(minutes=1))
            assert (await signal(api, symbol=symbol, action="long"))[account]["status"] == "filled"
        positions = await get(api, "/api/positions", token)
        assert sorted((p["symbol"], p["quantity"]) for p in positions) == [
            ("BTCUSDT", "0.1"),  # 10000 x 5 % x 10 / 50000; fee 0.04 % of 5000 = 2
            ("ETHUSDT", "1.999"),  # 9998 x 5 % x 10 / 2500 = 1.9996; fee 1.999
        ]

        # Both fall 4 %: -200 and -199.9 unrealized; 9996.001 - 399.9 = 9596.101 is
        # 4.04 % below the day's start of 10000.
        clock.advance(timedelta(minutes=1))
        await api.set_price("BTCUSDT", "48000")
        await api.set_price("ETHUSDT", "2400")
        summary = await sync(api)
        assert (summary["trips"], summary["closes"]) == (1, 2)
        assert await get(api, "/api/positions", token) == []
        [status] = await get(api, "/api/guardrails", token)
        assert status["tripped"] == "drawdown_stop"
        closes = sorted(
            (c["symbol"], c["side"], c["quantity"], c["status"], c["reduce_only"])
            for c in status["close_orders"]
        )
        assert closes == [
            ("BTCUSDT", "sell", "0.1", "filled", True),
            ("ETHUSDT", "sell", "1.999", "filled", True),
        ]
        [(_, event, text)] = notifier.about("guardrail.")
        assert event == "guardrail.tripped"
        assert text.endswith("open positions are being closed")

        # Re-running the sync sends nothing again.
        summary = await sync(api)
        assert (summary["trips"], summary["closes"]) == (0, 0)
        assert len(notifier.about("guardrail.")) == 1

        clock.set(datetime(2024, 5, 2, 0, 0, tzinfo=UTC))
        [status] = await get(api, "/api/guardrails", token)
        assert (status["day"], status["tripped"], status["close_orders"]) == (
            "2024-05-02",
            None,
            [],
        )


async def test_preview_shows_what_the_fan_out_then_does(database_url: str) -> None:
    clock, notifier = FixedClock(MORNING), RecordingNotifier()
    async with platform(database_url, clock, notifier) as api:
        await api.set_price("BTCUSDT", "65000")
        alice, alice_acc = await api.follower("alice")
        bob, bob_acc = await api.follower("bob", risk_perc="2", leverage=10)
        _, carol_acc = await api.follower("carol", paused=True)
        query = {"symbol": "BINANCE:BTCUSDT.P", "action": "long", "tp_perc": "2", "sl_perc": "1"}

        preview = await get(api, "/api/signals/preview", api.admin_token, **query)
        assert (preview["symbol"], preview["action"]) == ("BTCUSDT", "long")
        seen = {a["exchange_account_id"]: a for a in preview["accounts"]}
        assert set(seen) == {alice_acc, bob_acc, carol_acc}
        # 10000 x 1 % x 5 / 65000 = 0.0077 -> 0.007; bob 10000 x 2 % x 10 / 65000 -> 0.030.
        assert [(o["side"], o["quantity"], o["leverage"]) for o in seen[alice_acc]["orders"]] == [
            ("buy", "0.007", 5)
        ]
        assert [(o["quantity"], o["leverage"]) for o in seen[bob_acc]["orders"]] == [("0.03", 10)]
        # 65000 x 1.02 = 66300 and 65000 x 0.99 = 64350, on the 0.10 tick.
        assert (seen[bob_acc]["take_profit_price"], seen[bob_acc]["stop_loss_price"]) == (
            "66300",
            "64350",
        )
        assert (seen[carol_acc]["status"], seen[carol_acc]["reason"]) == (
            "skipped",
            "copying is paused for this follower",
        )
        assert await get(api, "/api/orders", alice) == []  # a preview places nothing

        mine = await get(api, "/api/signals/preview", bob, **query)
        assert [a["exchange_account_id"] for a in mine["accounts"]] == [bob_acc]

        done = await signal(api, symbol="BTCUSDT", action="long", tp_perc=2, sl_perc=1)
        for account, previewed in seen.items():
            assert done[account]["status"] == (
                "filled" if previewed["status"] == "would_send" else "skipped"
            )
            assert done[account]["reason"] == previewed["reason"]
            assert [o["quantity"] for o in done[account]["orders"]] == [
                o["quantity"] for o in previewed["orders"]
            ]

        # Now alice is long: the preview says so, as the fan-out would.
        again = await get(api, "/api/signals/preview", alice, symbol="BTCUSDT", action="long")
        assert again["accounts"][0]["reason"] == "a long position is already open"


async def test_preview_refuses_bad_input_naming_the_field(sqlite_url: str) -> None:
    clock, notifier = FixedClock(MORNING), RecordingNotifier()
    async with platform(sqlite_url, clock, notifier) as api:
        token, _ = await api.follower("alice")
        assert (await api.client.get("/api/signals/preview")).status_code == 401
        cases = [
            ({"action": "long"}, "symbol"),
            ({"symbol": "NOPEUSDT", "action": "long"}, "symbol"),
            ({"symbol": "BTCUSDT", "action": "hold"}, "action"),
            ({"symbol": "BTCUSDT", "action": "long", "risk_perc": "abc"}, "risk_perc"),
            ({"symbol": "BTCUSDT", "action": "long", "leverage": "2.5"}, "leverage"),
            ({"symbol": "BTCUSDT", "action": "long", "sl_perc": "100"}, "sl_perc"),
        ]
        for params, field in cases:
            response = await api.client.get(
                "/api/signals/preview", params=params, headers=api.auth(token)
            )
            assert response.status_code == 422, (params, response.text)
            assert response.json()["field"] == field


async def test_trades_balance_history_and_leaderboard(database_url: str) -> None:
    clock, notifier = FixedClock(MORNING), RecordingNotifier()
    async with platform(database_url, clock, notifier) as api:
        await api.set_price("BTCUSDT", "65000")
        alice, _ = await api.follower("alice")
        bob, bob_acc = await api.follower("bob", risk_perc="2", leverage=10)
        first = await sync(api)
        assert (first["accounts"], first["snapshots"], first["fills"]) == (2, 2, 0)

        clock.advance(timedelta(minutes=10))
        await signal(api, symbol="BTCUSDT", action="long")
        clock.advance(timedelta(minutes=10))
        await api.set_price("BTCUSDT", "66000")
        await signal(api, symbol="BTCUSDT", action="close")
        stored = await sync(api)
        assert (stored["snapshots"], stored["fills"]) == (0, 4)  # same hour: no new snapshot
        again = await sync(api)
        assert (again["snapshots"], again["fills"]) == (0, 0)  # a re-run stores nothing twice

        [trade] = await get(api, "/api/trades", bob)
        # 0.03 BTC 65000 -> 66000: +30; fees 0.04 % of 1950 and of 1980 = 1.572.
        assert trade["exchange_account_id"] == bob_acc
        assert (trade["symbol"], trade["side"], trade["quantity"]) == ("BTCUSDT", "long", "0.03")
        assert (trade["entry_price"], trade["exit_price"]) == ("65000", "66000")
        assert (trade["realized_pnl"], trade["fees"], trade["net_pnl"]) == ("30", "1.572", "28.428")
        assert trade["roi_perc"] == "1.45784615"  # 28.428 / 1950 x 100
        assert trade["opened_at"] == (MORNING + timedelta(minutes=10)).isoformat()
        assert trade["closed_at"] == (MORNING + timedelta(minutes=20)).isoformat()
        # alice: 0.007 BTC: +7, fees 0.182 + 0.1848.
        [alice_trade] = await get(api, "/api/trades", alice)
        assert alice_trade["net_pnl"] == "6.6332"

        clock.advance(timedelta(hours=1))
        assert (await sync(api))["snapshots"] == 2
        history = await get(api, "/api/balance/history", bob)
        assert [(h["hour"], h["equity"]) for h in history] == [
            (MORNING.isoformat(), "10000"),
            ((MORNING + timedelta(hours=1)).isoformat(), "10028.428"),
        ]
        since = (MORNING + timedelta(minutes=30)).isoformat()
        assert len(await get(api, "/api/balance/history", bob, since=since)) == 1
        [latest] = await get(api, "/api/balance/history", bob, limit="1")
        assert latest["equity"] == "10028.428"
        [earliest] = await get(api, "/api/balance/history", bob, since=MORNING.isoformat(), limit=1)
        assert earliest["equity"] == "10000"
        for params, field in (({"limit": "0"}, "limit"), ({"since": "yesterday"}, "since")):
            response = await api.client.get(
                "/api/balance/history", params=params, headers=api.auth(bob)
            )
            assert (response.status_code, response.json()["field"]) == (422, field)

        board = await get(api, "/api/leaderboard", period="all")  # public: no token
        assert board["period"] == "all"
        assert [e["username"] for e in board["entries"]] == ["bob", "alice"]
        top = board["entries"][0]
        assert set(top) == {
            "rank", "username", "roi_perc", "pnl", "win_rate_perc", "max_drawdown_perc", "trades"
        }  # fmt: skip
        # 28.428 over the period's first equity of 10000.
        assert (top["rank"], top["pnl"], top["roi_perc"]) == (1, "28.428", "0.28428")
        assert (top["win_rate_perc"], top["max_drawdown_perc"], top["trades"]) == ("100", "0", 1)

        response = await api.client.patch(
            "/api/me/settings", json={"leaderboard_opt_out": True}, headers=api.auth(alice)
        )
        assert response.json()["settings"]["leaderboard_opt_out"] is True
        board = await get(api, "/api/leaderboard", period="7d")
        assert [e["username"] for e in board["entries"]] == ["bob"]
        response = await api.client.get("/api/leaderboard", params={"period": "1y"})
        assert (response.status_code, response.json()["field"]) == (422, "period")


async def test_guardrail_settings_are_validated_and_stored(sqlite_url: str) -> None:
    clock, notifier = FixedClock(MORNING), RecordingNotifier()
    async with platform(sqlite_url, clock, notifier) as api:
        token, _ = await api.follower("alice")
        for body, field in (
            ({"drawdown_stop_perc": 0}, "drawdown_stop_perc"),
            ({"profit_lock_perc": "101"}, "profit_lock_perc"),
            ({"drawdown_stop_perc": "5", "profit_lock_perc": "-1"}, "profit_lock_perc"),
        ):
            response = await api.client.patch(
                "/api/me/settings", json=body, headers=api.auth(token)
            )
            assert (response.status_code, response.json()["field"]) == (422, field)
        me = await get(api, "/api/me", token)
        assert me["settings"]["drawdown_stop_perc"] is None  # bad input changed nothing

        response = await api.client.patch(
            "/api/me/settings",
            json={"drawdown_stop_perc": "5", "close_all_on_drawdown": True, "profit_lock_perc": 8},
            headers=api.auth(token),
        )
        assert response.status_code == 200, response.text
        settings = (await get(api, "/api/me", token))["settings"]
        assert (
            settings["drawdown_stop_perc"],
            settings["close_all_on_drawdown"],
            settings["profit_lock_perc"],
            settings["leaderboard_opt_out"],
        ) == ("5", True, "8", False)
        response = await api.client.patch(
            "/api/me/settings", json={"drawdown_stop_perc": None}, headers=api.auth(token)
        )
        assert response.json()["settings"]["drawdown_stop_perc"] is None
        assert response.json()["settings"]["profit_lock_perc"] == "8"
