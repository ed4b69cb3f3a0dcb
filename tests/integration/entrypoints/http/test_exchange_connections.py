"""Live exchange connections over HTTP: binanceusdm through real ccxt against the stub."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from mimic.adapters.crypto import FernetSecretBox, generate_key
from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.sqlalchemy.tables import exchange_accounts, notification_outbox
from mimic.adapters.sqlalchemy.vault import StoredCredentialVault
from mimic.domain.accounts import ApiCredentials, ExchangeAccount
from mimic.domain.errors import AuthRejected
from mimic.entrypoints.cli import rotate_keys, rotate_keys_command
from mimic.entrypoints.config import Settings
from tests.integration.harness import Api, make_settings, running_platform
from tests.stubs.binance import BinanceStub, running_in_thread

API_KEY = "stubKeyAbCdEfGh0123456789"
API_SECRET = "stubSecretZyXwVuT9876543210"


@pytest.fixture
def stub() -> Iterator[BinanceStub]:
    stub = BinanceStub()
    stub.add_account(API_KEY, API_SECRET)
    with running_in_thread(stub) as running:
        yield running


def live_settings(database_url: str, stub: BinanceStub, **changes: Any) -> Settings:
    return make_settings(database_url, ccxt_api_origins={"binanceusdm": stub.base_url}, **changes)


async def connect(api: Api, token: str, **body: Any) -> dict[str, Any]:
    payload = {"exchange": "binanceusdm", "api_key": API_KEY, "api_secret": API_SECRET, **body}
    response = await api.client.post("/api/exchanges", json=payload, headers=api.auth(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def checked(api: Api, token: str, account_id: str, within: float = 15.0) -> dict[str, Any]:
    """Polls the follower's list until the connection's check has an outcome."""
    deadline = time.monotonic() + within
    while True:
        response = await api.client.get("/api/exchanges", headers=api.auth(token))
        assert response.status_code == 200, response.text
        (found,) = [c for c in response.json() if c["id"] == account_id]
        if found["validation_status"] != "unchecked":
            return dict(found)
        assert time.monotonic() < deadline, f"connection never checked: {found}"
        await asyncio.sleep(0.05)


class EverythingLogged(logging.Handler):
    """Every record of every logger at every level, formatted with its arguments and
    traceback (Litestar replaces the root handlers when it starts, so pytest's capture
    does not see the app's records)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @contextlib.contextmanager
    def installed(self) -> Iterator["EverythingLogged"]:
        root = logging.getLogger()
        level = root.level
        root.addHandler(self)
        root.setLevel(logging.DEBUG)
        try:
            yield self
        finally:
            root.removeHandler(self)
            root.setLevel(level)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


async def test_connect_validate_approve_and_copy_a_signal_on_binance(
    database_url: str, stub: BinanceStub
) -> None:
    logged = EverythingLogged()
    bodies: list[str] = []
    async with running_platform(live_settings(database_url, stub)) as api:
        with logged.installed():
            token = await api.register("carol")
            for body, field in (
                ({"exchange": "binanceusdm", "api_key": API_KEY}, "api_secret"),
                ({"exchange": "binanceusdm", "api_secret": API_SECRET}, "api_key"),
                ({"exchange": "nosuchexchange", "api_key": "k", "api_secret": "s"}, "exchange"),
            ):
                response = await api.client.post(
                    "/api/exchanges", json=body, headers=api.auth(token)
                )
                assert response.status_code == 422, response.text
                assert response.json()["field"] == field
                bodies.append(response.text)

            created = await connect(api, token, label="main")
            assert (created["status"], created["api_key_masked"]) == ("pending", "stub...6789")
            found = await checked(api, token, created["id"])
            assert found["validation_status"] == "valid"
            assert "one-way mode" in found["validation_detail"]

            response = await api.client.get(
                "/api/admin/exchanges?status=pending", headers=api.auth(api.admin_token)
            )
            assert response.status_code == 200, response.text
            (pending,) = response.json()
            assert (pending["id"], pending["validation_status"]) == (created["id"], "valid")
            bodies.append(response.text)
            response = await api.client.post(
                f"/api/admin/exchanges/{created['id']}/approve", headers=api.auth(api.admin_token)
            )
            assert response.status_code == 200, response.text
            bodies.append(response.text)

            signal = await api.signal(symbol="BINANCE:BTCUSDT.P", action="long")
            report = await api.settled_report(signal["signal_id"])
            assert report["counts"] == {"filled": 1}, report
            orders = [r for r in stub.requests if (r.method, r.path) == ("POST", "/fapi/v1/order")]
            assert len(orders) == 1
            assert orders[0].api_key == API_KEY
            assert orders[0].params["newClientOrderId"].startswith("mimic")
            response = await api.client.get("/api/positions", headers=api.auth(token))
            assert response.status_code == 200, response.text
            assert [(p["exchange"], p["symbol"], p["side"]) for p in response.json()] == [
                ("binanceusdm", "BTCUSDT", "long")
            ]
            for path in ("/api/exchanges", "/api/orders", "/api/balance"):
                response = await api.client.get(path, headers=api.auth(token))
                bodies.append(response.text)

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = select(notification_outbox.c.event)
            events = set((await connection.execute(query)).scalars())
    finally:
        await engine.dispose()
    assert {"exchange.validated", "exchange.approved"} <= events
    assert f"connection {created['id']}: valid" in logged.text
    for text in (*bodies, logged.text):
        assert API_SECRET not in text
        assert API_KEY not in text
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(select(exchange_accounts))).mappings().one()
    finally:
        await engine.dispose()
    stored = " ".join(str(value) for value in row.values())
    assert API_SECRET not in stored
    assert API_KEY not in stored
    assert row["credentials_token"]


async def test_an_exchange_outage_delays_the_check_without_blocking_submission(
    sqlite_url: str, stub: BinanceStub
) -> None:
    stub.fail(status=503, method=None, path=None, times=None)
    settings = live_settings(
        sqlite_url, stub, sweep_interval=timedelta(seconds=0.2), validation_retry=timedelta(0)
    )
    async with running_platform(settings) as api:
        token = await api.register("dave")
        created = await connect(api, token)
        assert created["status"] == "pending"
        deadline = time.monotonic() + 10
        while True:
            response = await api.client.get("/api/exchanges", headers=api.auth(token))
            (found,) = response.json()
            if found["validated_at"] is not None:
                break
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert found["validation_status"] == "unchecked"
        assert "will retry" in found["validation_detail"]

        stub.clear_faults()
        found = await checked(api, token, created["id"])
        assert found["validation_status"] == "valid"


async def test_bad_keys_are_recorded_invalid_and_deleting_drops_the_ciphertext(
    sqlite_url: str, stub: BinanceStub
) -> None:
    async with running_platform(live_settings(sqlite_url, stub)) as api:
        token = await api.register("erin")
        created = await connect(api, token, api_secret="not-the-secret")
        found = await checked(api, token, created["id"])
        assert found["validation_status"] == "invalid"
        assert "credentials rejected" in found["validation_detail"]
        assert "not-the-secret" not in found["validation_detail"]

        response = await api.client.patch(
            f"/api/exchanges/{created['id']}", json={"enabled": False}, headers=api.auth(token)
        )
        assert response.status_code == 200, response.text
        assert response.json()["enabled"] is False
        response = await api.client.delete(
            f"/api/exchanges/{created['id']}", headers=api.auth(token)
        )
        assert response.status_code == 204, response.text

    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            tokens = (await connection.execute(select(exchange_accounts.c.credentials_token))).all()
    finally:
        await engine.dispose()
    assert tokens == []


async def test_a_ciphertext_copied_to_another_connection_does_not_open(
    database_url: str, stub: BinanceStub
) -> None:
    settings = live_settings(database_url, stub)
    async with running_platform(settings) as api:
        first = await connect(api, await api.register("frank"))
        second = await connect(api, await api.register("grace"), api_key="grace-key-123456789")

    engine = create_engine(database_url)
    vault = StoredCredentialVault(
        create_session_factory(engine), FernetSecretBox(settings.master_keys)
    )
    try:
        accounts = {}
        async with engine.begin() as connection:
            rows = (await connection.execute(select(exchange_accounts))).mappings().all()
            for row in rows:
                accounts[row["id"]] = ExchangeAccount(
                    row["id"], row["user_id"], row["exchange"], row["label"], row["created_at"]
                )
        assert await vault.credentials_for(accounts[first["id"]]) == ApiCredentials(
            API_KEY, API_SECRET
        )
        async with engine.begin() as connection:
            token = (
                await connection.execute(
                    select(exchange_accounts.c.credentials_token).where(
                        exchange_accounts.c.id == first["id"]
                    )
                )
            ).scalar_one()
            await connection.execute(
                update(exchange_accounts)
                .where(exchange_accounts.c.id == second["id"])
                .values(credentials_token=token)
            )
        with pytest.raises(AuthRejected, match="belong to another connection") as caught:
            await vault.credentials_for(accounts[second["id"]])
        assert API_SECRET not in str(caught.value)
    finally:
        await engine.dispose()


async def test_keys_rotate_leaves_every_secret_readable_with_the_new_key_alone(
    database_url: str, stub: BinanceStub, capsys: pytest.CaptureFixture[str]
) -> None:
    old_key, new_key = generate_key(), generate_key()
    settings = live_settings(database_url, stub, master_keys=(old_key,))
    async with running_platform(settings) as api:
        connected = [
            await connect(api, await api.register(f"user{n}"), api_key=f"key-{n}-abcdefgh")
            for n in range(5)
        ]

    rotated_settings = live_settings(database_url, stub, master_keys=(new_key, old_key))
    await asyncio.to_thread(rotate_keys_command, rotated_settings)
    assert capsys.readouterr().out.strip() == (
        "keys rotate: scanned=5 rotated=5 already_current=0 changed_meanwhile=0 unreadable=0"
    )
    again = await rotate_keys(rotated_settings)
    assert (again.scanned, again.rotated, again.already_current) == (5, 0, 5)

    engine = create_engine(database_url)
    only_new = StoredCredentialVault(create_session_factory(engine), FernetSecretBox([new_key]))
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(exchange_accounts))).mappings().all()
        opened = {
            row["id"]: await only_new.credentials_for(
                ExchangeAccount(row["id"], row["user_id"], "binanceusdm", "x", row["created_at"])
            )
            for row in rows
        }
    finally:
        await engine.dispose()
    assert {c["id"]: opened[c["id"]].api_key for c in connected} == {
        c["id"]: f"key-{n}-abcdefgh" for n, c in enumerate(connected)
    }
    assert {c.api_secret for c in opened.values()} == {API_SECRET}
