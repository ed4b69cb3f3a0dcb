"""Builds the real app on a migrated database and drives it over HTTP like a client would."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from dishka import Provider, Scope, provide
from httpx import AsyncClient
from litestar import Litestar
from litestar.testing import AsyncTestClient

from mimic.adapters.sqlalchemy.migrations import upgrade
from mimic.adapters.system import Argon2PasswordHasher
from mimic.entrypoints.cli import bootstrap
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.app import create_app
from mimic.ports.services import Clock, Notifier, PasswordHasher
from tests.fakes.services import FixedClock, RecordingNotifier

ADMIN_PASSWORD = "admin-password-for-tests"
PASSPHRASE = "webhook-passphrase-for-tests"
FOLLOWER_PASSWORD = "follower-password-1"


async def register_user(client: AsyncClient, username: str) -> None:
    """Registers `username` (address username@example.com) with the followers' password."""
    response = await client.post(
        "/api/auth/register",
        json={
            "username": username,
            "email": f"{username}@example.com",
            "password": FOLLOWER_PASSWORD,
        },
    )
    assert response.status_code == 201, response.text


class CheapHasherProvider(Provider):
    """argon2id with small parameters: the same code path, a fraction of the time."""

    @provide(scope=Scope.APP)
    def hasher(self) -> PasswordHasher:
        return Argon2PasswordHasher(memory_kib=1024, time_cost=1)


class ClockAndNotifier(Provider):
    """The test's clock (every adapter reads it) and a notifier that records."""

    def __init__(self, clock: FixedClock, notifier: RecordingNotifier) -> None:
        super().__init__()
        self._clock = clock
        self._notifier = notifier

    @provide(scope=Scope.APP)
    def clock(self) -> Clock:
        return self._clock

    @provide(scope=Scope.APP)
    def notifier(self) -> Notifier:
        return self._notifier


def make_settings(database_url: str, **changes: Any) -> Settings:
    base = Settings(
        database_url=database_url,
        jwt_secret="jwt-secret-for-tests-" + "x" * 32,
        admin_password=ADMIN_PASSWORD,
        webhook_passphrase=PASSPHRASE,
    )
    return replace(base, **changes)


async def migrate(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)


@dataclass
class Api:
    client: AsyncTestClient[Litestar]
    admin_token: str

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def login(self, username: str, password: str) -> str:
        response = await self.client.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        # Login also sets the web UI's session cookie; these tests speak bearer only.
        self.client.cookies.clear()
        return str(response.json()["access_token"])

    async def register(self, username: str) -> str:
        """Registers a follower; returns their access token."""
        await register_user(self.client, username)
        return await self.login(username, FOLLOWER_PASSWORD)

    async def follower(self, username: str, **settings: Any) -> tuple[str, str]:
        """Registers, connects paper, gets approved; returns (token, exchange account id)."""
        token = await self.register(username)
        if settings:
            response = await self.client.patch(
                "/api/me/settings", json=settings, headers=self.auth(token)
            )
            assert response.status_code == 200, response.text
        response = await self.client.post(
            "/api/exchanges", json={"exchange": "paper"}, headers=self.auth(token)
        )
        assert response.status_code == 201, response.text
        account_id = str(response.json()["id"])
        response = await self.client.post(
            f"/api/admin/exchanges/{account_id}/approve", headers=self.auth(self.admin_token)
        )
        assert response.status_code == 200, response.text
        return token, account_id

    async def signal(self, **payload: Any) -> dict[str, Any]:
        response = await self.client.post("/webhook", json={"passphrase": PASSPHRASE, **payload})
        assert response.status_code == 202, response.text
        return dict(response.json())

    async def settled_report(self, signal_id: str, within: float = 30.0) -> dict[str, Any]:
        """Polls the admin report until no follower account is pending."""
        deadline = time.monotonic() + within
        while True:
            response = await self.client.get(
                f"/api/signals/{signal_id}", headers=self.auth(self.admin_token)
            )
            assert response.status_code == 200, response.text
            report = dict(response.json())
            if report["signal"]["status"] == "done" and "pending" not in report["counts"]:
                return report
            assert time.monotonic() < deadline, f"signal did not settle: {report}"
            await asyncio.sleep(0.05)

    async def set_price(self, symbol: str, price: str) -> None:
        response = await self.client.put(
            f"/api/admin/paper/prices/{symbol}",
            json={"price": price},
            headers=self.auth(self.admin_token),
        )
        assert response.status_code == 200, response.text


@asynccontextmanager
async def running_platform(
    settings: Settings, *overrides: Provider, **app_options: Any
) -> AsyncIterator[Api]:
    await migrate(settings.database_url)
    # Bootstrap on its own container: the test client serves the app on another event loop.
    await bootstrap(settings, CheapHasherProvider())  # the admin's hash: 0.45 s less per test
    app = create_app(settings, CheapHasherProvider(), *overrides, **app_options)
    # On uvloop, as uvicorn serves `mimic run` and `mimic serve`.
    async with AsyncTestClient(app=app, timeout=30, backend_options={"use_uvloop": True}) as client:
        api = Api(client=client, admin_token="")
        api.admin_token = await api.login("admin", ADMIN_PASSWORD)
        yield api
