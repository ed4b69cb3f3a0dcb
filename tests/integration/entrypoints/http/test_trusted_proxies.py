"""`mimic serve`'s uvicorn believes X-Forwarded-For only from MIMIC_TRUSTED_PROXIES."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn

from mimic.entrypoints.cli import bootstrap, uvicorn_config
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.app import create_app
from tests.integration.harness import (
    ADMIN_PASSWORD,
    CheapHasherProvider,
    make_settings,
    migrate,
)
from tests.stubs.smtp import free_port

FORGED = "203.0.113.9"


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app behind a real uvicorn server, configured as `mimic serve` configures it."""
    await migrate(settings.database_url)
    await bootstrap(settings, CheapHasherProvider())
    app = create_app(settings, CheapHasherProvider(), embedded_worker=False)
    server = uvicorn.Server(uvicorn_config(app, settings))
    running = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        assert not running.done(), "uvicorn stopped before it started"
        assert time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.port}") as client:
            yield client
    finally:
        server.should_exit = True
        await running


async def sign_in_ips(client: httpx.AsyncClient) -> list[Any]:
    """Signs in with a forged X-Forwarded-For; returns the IPs the audit trail recorded."""
    login = await client.post(
        "/api/auth/login",
        json={"username": "admin", "password": ADMIN_PASSWORD},
        headers={"X-Forwarded-For": FORGED},
    )
    assert login.status_code == 200, login.text
    trail = await client.get(
        "/api/admin/audit",
        params={"action": "auth.login"},
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
    )
    assert trail.status_code == 200, trail.text
    return [event["ip"] for event in trail.json()]


async def test_a_forged_forwarded_for_is_ignored_without_trusted_proxies(
    sqlite_url: str,
) -> None:
    settings = make_settings(sqlite_url, host="127.0.0.1", port=free_port())
    async with served(settings) as client:
        assert await sign_in_ips(client) == ["127.0.0.1"]


async def test_a_trusted_proxy_forwards_the_client_address(sqlite_url: str) -> None:
    settings = make_settings(
        sqlite_url, host="127.0.0.1", port=free_port(), trusted_proxies=("127.0.0.0/8",)
    )
    async with served(settings) as client:
        assert await sign_in_ips(client) == [FORGED]
