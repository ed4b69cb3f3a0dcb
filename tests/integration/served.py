"""The real app served by uvicorn on a free local port, for WebSocket and browser tests."""

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from dishka import Provider

from mimic.entrypoints.cli import bootstrap
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.app import create_app
from tests.integration.harness import ADMIN_PASSWORD, CheapHasherProvider, migrate


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    base_url: str
    client: httpx.AsyncClient

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/live"

    async def session_cookie(self, username: str, password: str) -> str:
        """Signs in as the web page does; returns the Cookie header of that session."""
        async with httpx.AsyncClient(base_url=self.base_url) as browser:
            response = await browser.post(
                "/api/auth/login", json={"username": username, "password": password}
            )
            assert response.status_code == 200, response.text
            return "; ".join(f"{name}={value}" for name, value in browser.cookies.items())

    async def admin_token(self) -> str:
        response = await self.client.post(
            "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200, response.text
        self.client.cookies.clear()
        return str(response.json()["access_token"])


@asynccontextmanager
async def served_platform(
    settings: Settings, *overrides: Provider, **app_options: Any
) -> AsyncIterator[Served]:
    await migrate(settings.database_url)
    await bootstrap(settings, CheapHasherProvider())
    app = create_app(settings, CheapHasherProvider(), *overrides, **app_options)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        assert not serving.done(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start within 20 s"
        await asyncio.sleep(0.02)
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            yield Served(base_url=base_url, client=client)
    finally:
        server.should_exit = True
        await serving
