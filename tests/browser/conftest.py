"""Browser tests: Debian's chromium driven by Playwright against the real app on uvicorn.

Every page's requests are recorded (none may leave 127.0.0.1) and its console errors kept
(a CSP violation shows up there). Screenshots go to tests/browser/screenshots/ (git-ignored).
"""

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    async_playwright,
)

SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is missing: apt-get install -y chromium (.ci/run does it)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@dataclass
class Visitor:
    """One person's browser session: their pages, every request and console error."""

    context: BrowserContext
    page: Page
    base_url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    async def goto(self, path: str) -> None:
        response = await self.page.goto(self.base_url + path)
        assert response is not None, path
        assert response.ok, f"{path}: {response.status}"

    async def sign_in(self, username: str, password: str) -> None:
        await self.goto("/login")
        await self.page.get_by_label("Username").fill(username)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.wait_for_url("**/dashboard")

    async def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


async def visitor(browser: Browser, base_url: str, viewport: dict[str, int] = DESKTOP) -> Visitor:
    context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = await context.new_page()
    seen = Visitor(context=context, page=page, base_url=base_url)
    context.on("request", lambda request: seen.requests.append(request.url))
    page.on("websocket", lambda socket: seen.requests.append(socket.url))
    page.on("console", lambda message: _keep_error(seen, message))
    page.on("pageerror", lambda error: seen.console_errors.append(str(error)))
    page.on("dialog", _accept)  # the confirm() of dangerous buttons: the person says yes
    return seen


def _keep_error(seen: Visitor, message: ConsoleMessage) -> None:
    """Script errors and CSP refusals; an API's 4xx answer (shown in the form) is no error."""
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        seen.console_errors.append(message.text)


async def _accept(dialog: Dialog) -> None:
    await dialog.accept()
