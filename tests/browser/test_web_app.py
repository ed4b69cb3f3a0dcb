"""The web app in a real browser: a follower's first trade seen live, the admin's panic
switch, inert XSS payloads, no request leaving the machine, every page at two widths."""

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pyotp
from playwright.async_api import Browser, expect

from tests.browser.conftest import Visitor, visitor
from tests.integration.harness import (
    ADMIN_PASSWORD,
    FOLLOWER_PASSWORD,
    PASSPHRASE,
    make_settings,
    register_user,
)
from tests.integration.served import Served, served_platform

TOTP_SECRET = pyotp.random_base32()
LIVE_WITHIN_MS = 2000
XSS = "<img src=x onerror=alert(1)>"


def web_settings(database_url: str) -> Any:
    # The test drives the monitor itself: no round runs between its steps.
    return make_settings(
        database_url, panic_totp_secret=TOTP_SECRET, monitor_interval=timedelta(hours=1)
    )


async def admin_api(served: Served) -> httpx.AsyncClient:
    token = await served.admin_token()
    return httpx.AsyncClient(
        base_url=served.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


async def put_ok(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Any:
    response = await client.put(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def post_ok(client: httpx.AsyncClient, path: str, body: Any = None) -> Any:
    response = await client.post(path, json=body)
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


async def register_in_browser(person: Visitor, username: str, referral_code: str) -> None:
    await person.goto(f"/register?ref={referral_code}")
    await expect(person.page.get_by_label("Referral code (optional)")).to_have_value(referral_code)
    await person.page.get_by_label("Username").fill(username)
    await person.page.get_by_label("Email").fill(f"{username}@example.com")
    await person.page.get_by_label("Password").fill(FOLLOWER_PASSWORD)
    await person.page.get_by_role("button", name="Register").click()
    await person.page.wait_for_url("**/login?registered=1")
    await person.sign_in(username, FOLLOWER_PASSWORD)


def off_machine(requests: list[str], base_url: str) -> list[str]:
    local = (base_url, base_url.replace("http://", "ws://", 1), "data:")
    return [url for url in requests if not url.startswith(local)]


async def test_a_new_followers_first_trade_and_its_trailing_stop_show_live(
    chromium: Browser, sqlite_url: str
) -> None:
    async with served_platform(web_settings(sqlite_url)) as served:
        api = await admin_api(served)
        me = (await api.get("/api/me")).json()
        await put_ok(api, "/api/admin/paper/prices/BTCUSDT", {"price": "65000"})

        follower = await visitor(chromium, served.base_url)
        await register_in_browser(follower, "carol", me["referral_code"])
        await follower.goto("/exchanges")
        await follower.page.get_by_label("Exchange").select_option("paper")
        await follower.page.get_by_role("button", name="Connect").click()
        await expect(follower.page.locator("#connection-list")).to_contain_text("pending")

        admin = await visitor(chromium, served.base_url)
        await admin.sign_in("admin", ADMIN_PASSWORD)
        await admin.goto("/admin/connections")
        row = admin.page.locator("#pending-list tr", has_text="paper")
        await row.get_by_role("button", name="Approve").click()
        await expect(admin.page.locator("#pending-list")).to_contain_text("Nothing waits")
        # The follower's open page hears of the approval without a reload.
        await expect(follower.page.locator("#connection-list")).to_contain_text(
            "approved", timeout=LIVE_WITHIN_MS
        )

        await follower.goto("/settings")
        await follower.page.get_by_label("Trailing stop on").check()
        await follower.page.get_by_label("Activates at profit %").fill("2")
        await follower.page.get_by_label("Callback %").fill("1")
        await follower.page.get_by_role("button", name="Save settings").click()
        await expect(follower.page.get_by_text("Saved.")).to_be_visible()

        await follower.goto("/dashboard")
        await expect(follower.page.locator("#live-status")).to_have_attribute("data-state", "live")
        await admin.goto("/admin/signals")
        await expect(admin.page.locator("#live-status")).to_have_attribute("data-state", "live")
        response = await api.post(
            "/webhook", json={"passphrase": PASSPHRASE, "symbol": "BTCUSDT", "action": "long"}
        )
        assert response.status_code == 202, response.text
        position = follower.page.locator('#positions tr[data-symbol="BTCUSDT"]')
        await expect(position).to_be_visible(timeout=LIVE_WITHIN_MS)
        await expect(position).to_contain_text("0.007")
        await expect(follower.page.locator("#recent-orders")).to_contain_text("filled")
        # The admin's open signals page shows the new signal, done, without a reload.
        await expect(admin.page.locator("#signals")).to_contain_text("BTCUSDT")
        await expect(admin.page.locator("#signals .pill")).to_have_text("done")

        await put_ok(api, "/api/admin/paper/prices/BTCUSDT", {"price": "67000"})
        await post_ok(api, "/api/admin/monitor/run")  # activated: stop 66330
        await expect(follower.page.locator("#protection")).to_contain_text(
            "stop 66330", timeout=LIVE_WITHIN_MS
        )
        await follower.screenshot("readme-dashboard")
        await admin.goto("/admin")
        # The copy fidelity widget loads on its own request (figures kept for a minute).
        await expect(admin.page.locator("#fidelity-platform")).to_be_visible()
        await admin.screenshot("readme-admin")
        await put_ok(api, "/api/admin/paper/prices/BTCUSDT", {"price": "66300"})
        report = await post_ok(api, "/api/admin/monitor/run")
        assert len(report["trailing_closes"]) == 1
        await expect(position).to_have_count(0, timeout=LIVE_WITHIN_MS)
        await expect(follower.page.locator("#recent-orders")).to_contain_text(
            "trailing stop hit at 66300"
        )
        await expect(follower.page.locator("#toasts")).to_contain_text("Trailing stop hit")
        await follower.screenshot("flow-dashboard-after-trailing-stop")
        await post_ok(api, "/api/admin/portfolio/sync")  # an equity snapshot to chart
        await follower.goto("/dashboard")
        await expect(follower.page.locator("[data-equity-chart] canvas").first).to_be_visible()
        await expect(follower.page.locator("#fidelity-platform")).to_be_visible()
        await follower.screenshot("dashboard-equity-chart")
        assert follower.console_errors == []
        assert off_machine(follower.requests + admin.requests, served.base_url) == []
        await api.aclose()


async def test_the_panic_switch_asks_a_code_refuses_a_wrong_one_and_shows_each_account(
    chromium: Browser, sqlite_url: str
) -> None:
    async with served_platform(web_settings(sqlite_url)) as served:
        api = await admin_api(served)
        await put_ok(api, "/api/admin/paper/prices/BTCUSDT", {"price": "65000"})
        for name in ("dave", "erin"):
            await _api_follower(served, api, name)
        response = await api.post(
            "/webhook", json={"passphrase": PASSPHRASE, "symbol": "BTCUSDT", "action": "long"}
        )
        signal_id = response.json()["signal_id"]
        await _settled(api, signal_id)

        admin = await visitor(chromium, served.base_url)
        await admin.sign_in("admin", ADMIN_PASSWORD)
        await admin.goto("/admin/panic")
        totp = pyotp.TOTP(TOTP_SECRET)
        wrong = str((int(totp.now()) + 1) % 1_000_000).zfill(6)
        await admin.page.get_by_label("Code from your authenticator app").fill(wrong)
        await admin.page.get_by_label("I understand").check()
        await admin.page.get_by_role("button", name="Close everything").click()
        await expect(admin.page.get_by_role("alert")).to_have_text(
            "wrong or already used one-time password"
        )
        assert admin.page.url.endswith("/admin/panic")
        copying = (await api.get("/api/admin/copying")).json()
        assert copying == {"copying_paused": False}  # refused: nothing happened

        await admin.page.get_by_label("Code from your authenticator app").fill(totp.now())
        await admin.page.get_by_role("button", name="Close everything").click()
        await admin.page.wait_for_url("**/admin/panic/*")
        await expect(admin.page.locator("#panic-status")).to_have_text("done")
        rows = admin.page.locator("#panic-accounts tbody tr")
        await expect(rows).to_have_count(2)
        for index in range(2):
            await expect(rows.nth(index)).to_contain_text("BTCUSDT")
        await admin.screenshot("panic-run")
        assert (await api.get("/api/admin/copying")).json() == {"copying_paused": True}
        assert admin.console_errors == []
        await api.aclose()


async def _api_follower(served: Served, api: httpx.AsyncClient, name: str) -> str:
    await register_user(api, name)
    async with httpx.AsyncClient(base_url=served.base_url) as own:
        login = await own.post(
            "/api/auth/login", json={"username": name, "password": FOLLOWER_PASSWORD}
        )
        token = login.json()["access_token"]
        connection = await own.post(
            "/api/exchanges",
            json={"exchange": "paper", "label": name},
            headers={"Authorization": f"Bearer {token}"},
        )
    account_id = str(connection.json()["id"])
    await post_ok(api, f"/api/admin/exchanges/{account_id}/approve")
    return token


async def _settled(api: httpx.AsyncClient, signal_id: str) -> None:
    async with asyncio.timeout(30):
        while True:
            report = (await api.get(f"/api/signals/{signal_id}")).json()
            if report["signal"]["status"] == "done" and "pending" not in report["counts"]:
                return
            await asyncio.sleep(0.05)
