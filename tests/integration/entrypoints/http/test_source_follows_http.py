"""Followers choose sources over HTTP: two masters, three followers, who got which orders."""

from typing import Any

from tests.integration.harness import Api, make_settings, running_platform


async def new_source(api: Api, name: str) -> tuple[str, str]:
    """(id, passphrase) of a source the admin creates."""
    response = await api.client.post(
        "/api/admin/sources", json={"name": name}, headers=api.auth(api.admin_token)
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["passphrase"]


async def alert(api: Api, passphrase: str, symbol: str, action: str) -> dict[str, Any]:
    response = await api.client.post(
        "/webhook", json={"passphrase": passphrase, "symbol": symbol, "action": action}
    )
    assert response.status_code == 202, response.text
    return await api.settled_report(response.json()["signal_id"])


def orders_by_account(report: dict[str, Any]) -> dict[str, list[tuple[str, str, str, bool]]]:
    """Per follower account, its orders: (leg, side, quantity, reduce_only), close first."""
    return {
        a["exchange_account_id"]: sorted(
            ((o["leg"], o["side"], o["quantity"], o["reduce_only"]) for o in a["orders"]),
            key=lambda order: order[0] != "close",
        )
        for a in report["accounts"]
    }


async def test_each_follower_copies_the_sources_they_chose(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        await api.set_price("BTCUSDT", "65000")
        await api.set_price("ETHUSDT", "3000")
        alpha, alpha_passphrase = await new_source(api, "Alpha")
        beta, beta_passphrase = await new_source(api, "Beta")
        ann, ann_acc = await api.follower("ann")
        ben, ben_acc = await api.follower("ben")
        _, cat_acc = await api.follower("cat")  # chooses nothing: follows every source

        listed = (await api.client.get("/api/sources", headers=api.auth(ann))).json()
        assert {(s["name"], s["direction"]) for s in listed} == {
            ("Alpha", "both"),
            ("Beta", "both"),
            ("default", "both"),
        }
        chosen = await api.client.put(
            "/api/me/sources",
            json=[{"source_id": alpha, "risk_perc": "2", "leverage": 10}],
            headers=api.auth(ann),
        )
        assert chosen.status_code == 200, chosen.text
        assert chosen.json() == [
            {
                "source_id": alpha,
                "risk_perc": "2",
                "leverage": 10,
                "direction": "both",
                "multiplier": None,
            }
        ]
        chosen = await api.client.put(
            "/api/me/sources",
            json=[{"source_id": beta, "direction": "long_only"}],
            headers=api.auth(ben),
        )
        assert chosen.status_code == 200, chosen.text

        on_alpha = await alert(api, alpha_passphrase, "BTCUSDT", "buy")
        assert orders_by_account(on_alpha) == {
            # ann's follow: 10000 x 2 % x 10 / 65000 = 0.0307.. -> 0.030 BTC
            ann_acc: [("entry", "buy", "0.03", False)],
            # cat's defaults: 10000 x 1 % x 5 / 65000 = 0.0076.. -> 0.007 BTC
            cat_acc: [("entry", "buy", "0.007", False)],
        }

        on_beta = await alert(api, beta_passphrase, "ETHUSDT", "buy")
        # Defaults: 10000 x 1 % x 5 / 3000 = 0.1666.. -> 0.166 ETH
        assert orders_by_account(on_beta) == {
            ben_acc: [("entry", "buy", "0.166", False)],
            cat_acc: [("entry", "buy", "0.166", False)],
        }

        preview = await api.client.get(
            "/api/signals/preview",
            params={"symbol": "ETHUSDT", "action": "sell", "source_id": beta},
            headers=api.auth(ben),
        )
        assert preview.status_code == 200, preview.text
        assert [(o["leg"], o["side"]) for o in preview.json()["accounts"][0]["orders"]] == [
            ("close", "sell")
        ]

        # A sell on Beta reverses cat; ben follows Beta long-only: his long is closed only.
        reversal = await alert(api, beta_passphrase, "ETHUSDT", "sell")
        assert orders_by_account(reversal) == {
            ben_acc: [("close", "sell", "0.166", True)],
            cat_acc: [("close", "sell", "0.166", True), ("entry", "sell", "0.166", False)],
        }

        signals = (await api.client.get("/api/signals", headers=api.auth(api.admin_token))).json()
        assert [(s["source_id"], s["source_name"]) for s in signals] == [
            (beta, "Beta"),
            (beta, "Beta"),
            (alpha, "Alpha"),
        ]
        assert reversal["signal"]["source_name"] == "Beta"
        page = await api.client.get("/admin/signals", headers=api.auth(api.admin_token))
        assert page.status_code == 200
        assert "<td>Alpha</td>" in page.text
        assert "<td>Beta</td>" in page.text
        ann_orders = (await api.client.get("/api/orders", headers=api.auth(ann))).json()
        assert [(o["signal_id"], o["source_id"]) for o in ann_orders] == [
            (on_alpha["signal"]["id"], alpha)
        ]
        ben_orders = (await api.client.get("/api/orders", headers=api.auth(ben))).json()
        assert {o["source_id"] for o in ben_orders} == {beta}


async def test_a_bad_list_of_follows_is_refused_and_changes_nothing(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        alpha, _ = await new_source(api, "Alpha")
        ann, _ = await api.follower("ann")
        headers = api.auth(ann)
        kept = [
            {
                "source_id": alpha,
                "risk_perc": None,
                "leverage": 3,
                "direction": "short_only",
                "multiplier": "1.5",
            }
        ]
        response = await api.client.put("/api/me/sources", json=kept, headers=headers)
        assert response.status_code == 200, response.text

        for body, field in [
            ([{"source_id": "no-such-source"}], "source_id"),
            ([{"source_id": alpha, "risk_perc": "50"}], "risk_perc"),  # the admin's cap: 10 %
            ([{"source_id": alpha, "leverage": 21}], "leverage"),
            ([{"source_id": alpha, "multiplier": "0"}], "multiplier"),
            ([{"source_id": alpha, "multiplier": "10.5"}], "multiplier"),
        ]:
            refused = await api.client.put("/api/me/sources", json=body, headers=headers)
            assert refused.status_code == 422, (body, refused.text)
            assert refused.json()["field"] == field
        sideways = [{"source_id": alpha, "direction": "sideways"}]
        assert (await api.client.put("/api/me/sources", json=sideways, headers=headers)).is_error
        assert (await api.client.get("/api/me/sources", headers=headers)).json() == kept

        preview = await api.client.get(
            "/api/signals/preview", params={"symbol": "BTCUSDT", "action": "buy"}, headers=headers
        )
        assert preview.status_code == 422  # two active sources: say which
        assert preview.json()["field"] == "source_id"
        assert (await api.client.get("/api/me/sources")).status_code == 401

        # A source no signal came from may be deleted though followed: its follows go with it.
        admin = api.auth(api.admin_token)
        deleted = await api.client.delete(f"/api/admin/sources/{alpha}", headers=admin)
        assert deleted.status_code == 204, deleted.text
        assert (await api.client.get("/api/me/sources", headers=headers)).json() == []
