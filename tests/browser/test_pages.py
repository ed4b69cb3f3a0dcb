"""Every page: user text stays text, nothing is fetched from outside 127.0.0.1, and each
page renders at a phone's 375 px and a desktop's 1280 px (screenshots to look at)."""

import re
from typing import Any

import httpx
from playwright.async_api import Browser, expect

from tests.browser.conftest import DESKTOP, PHONE, Visitor, visitor
from tests.browser.test_web_app import (
    XSS,
    admin_api,
    off_machine,
    post_ok,
    put_ok,
    web_settings,
)
from tests.integration.harness import ADMIN_PASSWORD, FOLLOWER_PASSWORD, PASSPHRASE, register_user
from tests.integration.served import Served, served_platform


async def follower_with_payloads(served: Served, api: httpx.AsyncClient) -> dict[str, str]:
    """A follower whose connection label, message and rejection reason hold the payload."""
    await register_user(api, "mallory")
    async with httpx.AsyncClient(base_url=served.base_url) as own:
        login = await own.post(
            "/api/auth/login", json={"username": "mallory", "password": FOLLOWER_PASSWORD}
        )
        bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        approved = await own.post(
            "/api/exchanges", json={"exchange": "paper", "label": XSS}, headers=bearer
        )
        rejected = await own.post(
            "/api/exchanges", json={"exchange": "paper", "label": "second"}, headers=bearer
        )
        thread = await own.post(
            "/api/messages", json={"subject": XSS, "body": f"hello {XSS}"}, headers=bearer
        )
    assert thread.status_code == 201, thread.text
    await post_ok(api, f"/api/admin/exchanges/{approved.json()['id']}/approve")
    await post_ok(api, f"/api/admin/exchanges/{rejected.json()['id']}/reject", {"reason": XSS})
    return {"thread": str(thread.json()["id"])}


async def assert_inert(person: Visitor, path: str) -> None:
    await person.goto(path)
    await expect(person.page.locator("main")).to_contain_text(XSS)  # shown as text
    await expect(person.page.locator("img[src='x']")).to_have_count(0)


async def test_user_text_is_shown_as_text_and_never_runs(
    chromium: Browser, sqlite_url: str
) -> None:
    async with served_platform(web_settings(sqlite_url)) as served:
        api = await admin_api(served)
        made = await follower_with_payloads(served, api)

        stranger = await visitor(chromium, served.base_url)
        await stranger.goto("/register")
        await stranger.page.get_by_label("Username").fill(XSS)
        await stranger.page.get_by_label("Email").fill("x@example.com")
        await stranger.page.get_by_label("Password").fill(FOLLOWER_PASSWORD)
        await stranger.page.get_by_role("button", name="Register").click()
        # Refused next to the field; the page stays where it was.
        await expect(stranger.page.locator("[data-error-for=username]")).to_contain_text(
            "3-32 characters"
        )

        mallory = await visitor(chromium, served.base_url)
        await mallory.sign_in("mallory", FOLLOWER_PASSWORD)
        for path in ("/exchanges", "/messages", f"/messages/{made['thread']}", "/dashboard"):
            if path == "/dashboard":
                await mallory.goto(path)
                continue
            await assert_inert(mallory, path)

        admin = await visitor(chromium, served.base_url)
        await admin.sign_in("admin", ADMIN_PASSWORD)
        for path in ("/messages", f"/messages/{made['thread']}"):
            await assert_inert(admin, path)
        await admin.goto("/admin/audit")

        for person in (stranger, mallory, admin):
            assert person.dialogs == []  # alert(1) never ran
            assert person.console_errors == []
            assert not any(url.endswith("/x") for url in person.requests)
        await api.aclose()


async def test_every_page_stays_on_this_machine_at_phone_and_desktop_widths(
    chromium: Browser, sqlite_url: str
) -> None:
    async with served_platform(web_settings(sqlite_url)) as served:
        api = await admin_api(served)
        await put_ok(api, "/api/admin/paper/prices/BTCUSDT", {"price": "65000"})
        made = await follower_with_payloads(served, api)
        signal = await api.post(
            "/webhook", json={"passphrase": PASSPHRASE, "symbol": "BTCUSDT", "action": "long"}
        )
        signal_id = signal.json()["signal_id"]
        public = ["/login", "/register?ref=FRIEND", "/forgot", "/reset?code=abc", "/leaderboard"]
        follower = [
            "/dashboard",
            "/orders",
            "/trades",
            "/exchanges",
            "/settings",
            "/notifications",
            "/subscription",
            "/referrals",
            "/messages",
            f"/messages/{made['thread']}",
        ]
        admin_pages = [
            "/admin",
            "/admin/signals",
            f"/admin/signals/{signal_id}",
            "/admin/users",
            "/admin/connections",
            "/admin/settings",
            "/admin/payments",
            "/admin/audit",
            "/admin/panic",
            "/schema",
        ]
        seen: list[Visitor] = []
        for width_name, viewport in (("375", PHONE), ("1280", DESKTOP)):
            anyone = await visitor(chromium, served.base_url, viewport)
            mallory = await visitor(chromium, served.base_url, viewport)
            await mallory.sign_in("mallory", FOLLOWER_PASSWORD)
            admin = await visitor(chromium, served.base_url, viewport)
            await admin.sign_in("admin", ADMIN_PASSWORD)
            for person, paths in ((anyone, public), (mallory, follower), (admin, admin_pages)):
                for path in paths:
                    await person.goto(path)
                    await person.page.wait_for_load_state("networkidle")
                    await _fits(person, path, viewport)
                    name = re.sub(r"[0-9a-f]{32}", "one", path.split("?")[0].strip("/"))
                    name = name.replace("/", "-")
                    await person.screenshot(f"{width_name}-{name}")
            seen += [anyone, mallory, admin]

        for person in seen:
            assert off_machine(person.requests, served.base_url) == []
            assert person.console_errors == []  # no CSP refusal, no script error
        assert any(url.endswith("/swagger-ui-bundle.js") for v in seen for url in v.requests)
        await api.aclose()


async def _fits(person: Visitor, path: str, viewport: Any) -> None:
    """Nothing but a table's own scroller is wider than the screen."""
    if path == "/schema":
        return  # Swagger UI's own layout
    overflow = await person.page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= viewport["width"], f"{path} is {overflow} px wide"
