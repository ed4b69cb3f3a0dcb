"""Alert dialects over HTTP: what other bots' templates send is accepted as they send it."""

import json

from tests.integration.harness import PASSPHRASE, make_settings, running_platform


async def test_public_templates_and_octobot_lines_are_accepted(sqlite_url: str) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        tradingview = json.dumps(
            {
                "passphrase": PASSPHRASE,
                "ticker": "BINANCE:BTCUSDT.P",
                "strategy": {"order_action": "sell", "market_position": "short"},
                "id": "tv-1",
            }
        )
        response = await api.client.post(
            "/webhook", content=tradingview, headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 202, response.text

        octobot = f"EXCHANGE=binance\nSYMBOL=ETHUSDT\nSIGNAL=BUY\nPASSPHRASE={PASSPHRASE}\n"
        response = await api.client.post(
            "/webhook", content=octobot, headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 202, response.text

        listed = await api.client.get("/api/signals", headers=api.auth(api.admin_token))
        assert sorted((s["symbol"], s["action"]) for s in listed.json()) == [
            ("BTCUSDT", "short"),
            ("ETHUSDT", "long"),
        ]


async def test_an_unreadable_alert_names_what_was_looked_for(sqlite_url: str) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        response = await api.client.post(
            "/webhook", json={"passphrase": PASSPHRASE, "ticker": "BTCUSDT", "price": 1}
        )
        assert response.status_code == 422
        body = response.json()
        assert body["field"] == "action"
        assert "order_action" in body["detail"]
        assert "{{strategy.order.action}}" in body["detail"]
        listed = await api.client.get("/api/signals", headers=api.auth(api.admin_token))
        assert listed.json() == []


async def test_a_resend_with_other_whitespace_and_key_order_is_a_duplicate(
    sqlite_url: str,
) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        first = await api.client.post(
            "/webhook",
            content=f'{{"passphrase":"{PASSPHRASE}","symbol":"BTCUSDT","action":"buy"}}',
        )
        assert first.status_code == 202, first.text
        again = await api.client.post(
            "/webhook",
            content=f'{{ "action" : "buy",\n  "symbol": "BTCUSDT", "passphrase": "{PASSPHRASE}" }}',
        )
        assert again.status_code == 200, again.text
        assert again.json() == {"signal_id": first.json()["signal_id"], "duplicate": True}


async def test_senders_outside_the_allow_list_are_refused(sqlite_url: str) -> None:
    # TradingView's published webhook addresses; the test client is none of them.
    allowed = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
    async with running_platform(make_settings(sqlite_url, webhook_allowed_ips=allowed)) as api:
        response = await api.client.post(
            "/webhook", json={"passphrase": PASSPHRASE, "symbol": "BTCUSDT", "action": "buy"}
        )
        assert response.status_code == 403
        assert "MIMIC_WEBHOOK_ALLOWED_IPS" in response.json()["detail"]
        listed = await api.client.get("/api/signals", headers=api.auth(api.admin_token))
        assert listed.json() == []
