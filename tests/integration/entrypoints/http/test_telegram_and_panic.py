"""The Telegram bot, notification delivery and the panic switch, over real HTTP.

A fake Telegram Bot API (tests/stubs/telegram.py) runs as a local server; the platform
runs embedded (its sender loop delivers the outbox) on the paper exchange.
"""

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from dishka import AsyncContainer

from mimic.adapters.telegram.bot_api import TelegramBotApi
from mimic.adapters.totp import ISSUER
from mimic.entrypoints.cli import run_telegram
from mimic.entrypoints.config import Settings
from mimic.entrypoints.ioc.root import build_container
from mimic.entrypoints.telegram_polling import poll
from mimic.entrypoints.worker.tasks import create_broker
from mimic.ports.repositories import AuditLog
from mimic.ports.services import Notifier
from tests.integration.harness import Api, make_settings, running_platform
from tests.stubs.telegram import TelegramStub, private_message

TOKEN = "123456:SECRET-BOT-TOKEN"
HOOK_SECRET = "hook-secret-for-tests"
TOTP_SECRET = pyotp.random_base32()
ADMIN_CHAT = 900


@pytest.fixture
async def stub() -> AsyncIterator[TelegramStub]:
    async with TelegramStub(token=TOKEN) as server:
        yield server


def bot_settings(database_url: str, stub: TelegramStub) -> Settings:
    return make_settings(
        database_url,
        telegram_bot_token=TOKEN,
        telegram_api_url=stub.url,
        telegram_bot_username="MimicTestBot",
        telegram_webhook_secret=HOOK_SECRET,
        panic_totp_secret=TOTP_SECRET,
        notify_interval=timedelta(milliseconds=50),
    )


@contextlib.asynccontextmanager
async def platform(database_url: str, stub: TelegramStub) -> AsyncIterator[Api]:
    async with running_platform(bot_settings(database_url, stub)) as api:
        yield api


@contextlib.asynccontextmanager
async def own_container(database_url: str, stub: TelegramStub) -> AsyncIterator[AsyncContainer]:
    """A container on the test's event loop (the test client serves the app on another)."""
    settings = bot_settings(database_url, stub)
    container = build_container(settings, create_broker(settings))
    try:
        yield container
    finally:
        await container.close()


async def bot(api: Api, chat_id: int, text: str, secret: str = HOOK_SECRET) -> Any:
    """What Telegram does in webhook mode: post the update with the secret header."""
    response = await api.client.post(
        "/api/telegram/webhook",
        json={"update_id": 1, "message": private_message(1, chat_id, text)},
        headers={"X-Telegram-Bot-Api-Secret-Token": secret},
    )
    return response


async def reply(api: Api, chat_id: int, text: str) -> str:
    response = await bot(api, chat_id, text)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["method"] == "sendMessage"
    assert body["chat_id"] == str(chat_id)
    return str(body["text"])


async def link(api: Api, token: str, chat_id: int) -> None:
    response = await api.client.post("/api/me/telegram/link", headers=api.auth(token))
    assert response.status_code == 200, response.text
    offer = response.json()
    assert offer["deep_link"] == f"https://t.me/MimicTestBot?start={offer['code']}"
    assert "Linked to" in await reply(api, chat_id, offer["start_command"])


async def open_long(api: Api, symbol: str = "BTCUSDT") -> None:
    sent = await api.signal(
        symbol=symbol, action="long", risk_perc=5, leverage=2, id=uuid.uuid4().hex
    )
    report = await api.settled_report(sent["signal_id"])
    assert "filled" in report["counts"], report


async def test_linking_commands_and_order_notifications(
    database_url: str, stub: TelegramStub
) -> None:
    async with platform(database_url, stub) as api:
        alice, _ = await api.follower("alice")
        response = await api.client.get("/api/me/notifications", headers=api.auth(alice))
        before = response.json()
        assert before["telegram_linked"] is False
        channels = {e["event"]: e["channels"] for e in before["events"]}
        assert channels["order.rejected"] == ["email"]
        assert channels["order.filled"] == []

        # The secret header is checked; a wrong one changes nothing.
        assert (await bot(api, 1001, "/status", secret="wrong")).status_code == 401
        assert (await bot(api, 1001, "/status", secret="")).status_code == 401
        assert "not linked" in await reply(api, 1001, "/status")

        response = await api.client.post("/api/me/telegram/link", headers=api.auth(alice))
        code = response.json()["code"]
        assert "Linked to alice" in await reply(api, 1001, f"/start {code}")
        assert "unknown, used or expired" in await reply(api, 1002, f"/start {code}")
        response = await api.client.get("/api/me/notifications", headers=api.auth(alice))
        assert response.json()["telegram_linked"] is True

        await open_long(api)
        # The fill reaches the linked chat through the outbox and the sender.
        filled = await stub.wait_for_message(1001, "BTCUSDT buy")
        assert "filled" in filled.text

        status = await reply(api, 1001, "/status")
        assert "BTCUSDT long" in status
        assert "PnL" in status
        assert "equity" in await reply(api, 1001, "/balance")
        assert "paused" in await reply(api, 1001, "/pause")
        me = (await api.client.get("/api/me", headers=api.auth(alice))).json()
        assert me["settings"]["paused"] is True
        assert "resumed" in await reply(api, 1001, "/resume")
        me = (await api.client.get("/api/me", headers=api.auth(alice))).json()
        assert me["settings"]["paused"] is False
        assert "Only an admin" in await reply(api, 1001, "/panic 123456")
        assert "/status" in await reply(api, 1001, "/help")

        # Choices per event: no Telegram for fills from now on.
        response = await api.client.put(
            "/api/me/notifications",
            json={"events": {"order.filled": []}},
            headers=api.auth(alice),
        )
        assert response.status_code == 200, response.text
        chosen = {e["event"]: e for e in response.json()["events"]}
        assert chosen["order.filled"] == {"event": "order.filled", "channels": [], "default": False}
        response = await api.client.put(
            "/api/me/notifications",
            json={"events": {"order.filled": ["pigeon"]}},
            headers=api.auth(alice),
        )
        assert response.status_code == 422

        response = await api.client.delete("/api/me/telegram", headers=api.auth(alice))
        assert response.status_code == 204
        assert "not linked" in await reply(api, 1001, "/status")
        response = await api.client.delete("/api/me/telegram", headers=api.auth(alice))
        assert response.status_code == 404
        assert TOKEN not in str(stub.webhook)


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_long_polling_answers_commands(sqlite_url: str, stub: TelegramStub) -> None:
    httpx_log = logging.getLogger("httpx")
    recorder = Recorder()
    httpx_log.addHandler(recorder)
    level = httpx_log.level
    httpx_log.setLevel(logging.DEBUG)
    try:
        await _poll_and_answer(sqlite_url, stub)
    finally:
        httpx_log.removeHandler(recorder)
        httpx_log.setLevel(level)
    # httpx logs every request URL, and the token is part of it: it must be masked.
    assert any("/bot<token>/getUpdates" in line for line in recorder.lines)
    assert not any(TOKEN in line for line in recorder.lines)


async def _poll_and_answer(sqlite_url: str, stub: TelegramStub) -> None:
    async with platform(sqlite_url, stub) as api:
        bob, _ = await api.follower("bob")
        await open_long(api, "ETHUSDT")
        response = await api.client.post("/api/me/telegram/link", headers=api.auth(bob))
        code = response.json()["code"]

        client = TelegramBotApi(TOKEN, api_url=stub.url)
        stop = asyncio.Event()
        async with own_container(sqlite_url, stub) as container:
            polling = asyncio.create_task(poll(container, client, stop, poll_seconds=1))
            try:
                stub.push_message(2002, f"/start {code}")
                await stub.wait_for_message(2002, "Linked to bob")
                stub.push_message(2002, "/status")
                assert "ETHUSDT long" in (await stub.wait_for_message(2002, "Positions")).text
                stub.push_message(2002, "/balance")
                await stub.wait_for_message(2002, "equity")
            finally:
                stop.set()
                polling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await polling
                await client.close()
        assert "deleteWebhook" in stub.calls
        assert "getUpdates" in stub.calls


async def test_flood_control_spaces_a_chat_and_honours_retry_after(
    database_url: str, stub: TelegramStub
) -> None:
    async with platform(database_url, stub) as api:
        carol, _ = await api.follower("carol")
        await link(api, carol, 3003)
        me = (await api.client.get("/api/me", headers=api.auth(carol))).json()
        stub.flood(retry_after=1)
        refused_at = time.monotonic()
        async with own_container(database_url, stub) as container:
            notifier = await container.get(Notifier)
            for n in range(3):
                await notifier.notify(me["id"], "exchange.approved", f"update number {n}")
        for n in range(3):
            await stub.wait_for_message(3003, f"update number {n}", within=15)

        assert len(stub.refused) == 1  # answered 429 once, then delivered: nothing lost
        delivered = [m for m in stub.sent_to(3003) if "update number" in m.text]
        assert sorted(m.text for m in delivered) == [f"update number {n}" for n in range(3)]
        assert delivered[0].at - refused_at >= 0.95  # retry_after honoured
        gaps = [b.at - a.at for a, b in itertools.pairwise(delivered)]
        assert all(gap >= 0.95 for gap in gaps), gaps  # about one message per second per chat


async def test_panic_with_valid_invalid_and_replayed_otp(
    database_url: str, stub: TelegramStub
) -> None:
    async with platform(database_url, stub) as api:
        followers = [await api.follower(name) for name in ("dave", "erin", "frank")]
        await open_long(api, "BTCUSDT")
        await open_long(api, "ETHUSDT")
        await link(api, followers[0][0], 4001)
        await link(api, api.admin_token, ADMIN_CHAT)
        admin = api.auth(api.admin_token)
        totp = pyotp.TOTP(TOTP_SECRET)

        async def positions(token: str) -> list[str]:
            response = await api.client.get("/api/positions", headers=api.auth(token))
            assert response.status_code == 200, response.text
            return sorted(p["symbol"] for p in response.json())

        for token, _ in followers:
            assert await positions(token) == ["BTCUSDT", "ETHUSDT"]

        # A non-admin cannot; a wrong code is refused and nothing happens.
        response = await api.client.post(
            "/api/admin/panic", json={"otp": totp.now()}, headers=api.auth(followers[0][0])
        )
        assert response.status_code == 403
        wrong = str((int(totp.now()) + 1) % 1_000_000).zfill(6)
        response = await api.client.post("/api/admin/panic", json={"otp": wrong}, headers=admin)
        assert response.status_code == 403, response.text
        for token, _ in followers:
            assert await positions(token) == ["BTCUSDT", "ETHUSDT"]
        copying = (await api.client.get("/api/admin/copying", headers=admin)).json()
        assert copying == {"copying_paused": False}

        code = totp.now()
        response = await api.client.post("/api/admin/panic", json={"otp": code}, headers=admin)
        assert response.status_code == 200, response.text
        run = response.json()
        assert run["status"] == "done"
        assert run["copying_paused"] is True
        by_account = {a["exchange_account_id"]: a for a in run["accounts"]}
        for token, account_id in followers:
            assert sorted(by_account[account_id]["closed"]) == ["BTCUSDT", "ETHUSDT"]
            assert by_account[account_id]["failed"] == {}
            assert await positions(token) == []
            orders = (await api.client.get("/api/orders", headers=api.auth(token))).json()
            panic_orders = [o for o in orders if o["signal_id"] == f"panic:{run['id']}"]
            assert {(o["symbol"], o["status"], o["reduce_only"]) for o in panic_orders} == {
                ("BTCUSDT", "filled", True),
                ("ETHUSDT", "filled", True),
            }
        stored = (await api.client.get(f"/api/admin/panic/{run['id']}", headers=admin)).json()
        assert stored["accounts"] == run["accounts"]

        # The same code again: refused, even though it is still within its 30 s.
        response = await api.client.post("/api/admin/panic", json={"otp": code}, headers=admin)
        assert response.status_code == 403
        assert "already used" in response.json()["detail"]

        # Copying is paused: a new entry is skipped for everyone; resume lifts it.
        sent = await api.signal(symbol="BTCUSDT", action="long")
        report = await api.settled_report(sent["signal_id"])
        assert report["counts"] == {"skipped": 3}, report
        response = await api.client.post("/api/admin/copying/resume", headers=admin)
        assert response.json() == {"copying_paused": False}

        # Followers and admins are told.
        await stub.wait_for_message(4001, "Panic: an admin closed every position")
        await stub.wait_for_message(ADMIN_CHAT, f"Panic run {run['id'][:8]} done")

        # The bot's /panic: the next step's code (the previous one is used up).
        await open_long(api, "BTCUSDT")
        answer = await reply(api, ADMIN_CHAT, f"/panic {code}")
        assert "Refused" in answer
        assert "already used" in answer
        answer = await reply(api, ADMIN_CHAT, f"/panic {totp.at(time.time() + 30)}")
        assert "3 positions closed" in answer, answer
        for token, _ in followers:
            assert await positions(token) == []

        async with own_container(database_url, stub) as container, container() as request:
            audit = await request.get(AuditLog)
            events = await audit.list(action="panic.")
        actions = [e.action for e in events]
        assert actions.count("panic.accepted") == 2
        assert actions.count("panic.denied") == 3  # wrong, replay, bot replay
        assert all(TOTP_SECRET not in str(e) and code not in str(e) for e in events)


async def test_set_webhook_registers_the_url_and_secret(
    sqlite_url: str, stub: TelegramStub
) -> None:
    settings = bot_settings(sqlite_url, stub)
    url = "https://mimic.example.com/api/telegram/webhook"
    await run_telegram(settings, url)
    assert stub.webhook is not None
    assert stub.webhook["url"] == url
    assert stub.webhook["secret_token"] == HOOK_SECRET


async def test_the_totp_secret_is_shown_until_an_admin_confirms_it(
    sqlite_url: str, stub: TelegramStub
) -> None:
    async with platform(sqlite_url, stub) as api:
        admin = api.auth(api.admin_token)
        alice, _ = await api.follower("alice")
        response = await api.client.get("/api/admin/panic/setup", headers=api.auth(alice))
        assert response.status_code == 403
        response = await api.client.get("/api/admin/panic/setup", headers=admin)
        assert response.status_code == 200, response.text
        uri = response.json()["provisioning_uri"]
        assert uri == pyotp.TOTP(TOTP_SECRET).provisioning_uri(name="admin", issuer_name=ISSUER)

        response = await api.client.post(
            "/api/admin/panic/setup", json={"otp": "000000"}, headers=admin
        )
        assert response.status_code == 403
        code = pyotp.parse_uri(uri).now()
        response = await api.client.post(
            "/api/admin/panic/setup", json={"otp": code}, headers=admin
        )
        assert response.status_code == 204, response.text
        response = await api.client.get("/api/admin/panic/setup", headers=admin)
        assert response.status_code == 409
        assert TOTP_SECRET not in response.text
        # The confirming code is used up: it cannot pull panic afterwards.
        response = await api.client.post("/api/admin/panic", json={"otp": code}, headers=admin)
        assert response.status_code == 403
