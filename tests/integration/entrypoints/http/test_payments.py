"""Payments over HTTP on SQLite and Postgres, against a Plisio stub on a real local socket."""

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from mimic.adapters.sqlalchemy.engine import create_engine
from mimic.adapters.sqlalchemy.tables import audit_events, invoices, referral_commissions
from tests.fakes.services import FixedClock, RecordingNotifier
from tests.integration.harness import (
    FOLLOWER_PASSWORD,
    Api,
    ClockAndNotifier,
    make_settings,
    running_platform,
)
from tests.stubs.plisio import PlisioStub

API_KEY = "plisio-secret-key-for-tests-3f9a"
PUBLIC_URL = "https://mimic.example.com"
CALLBACK = "/api/payments/plisio/callback"


@dataclass
class Payments:
    api: Api
    stub: PlisioStub
    clock: FixedClock
    notifier: RecordingNotifier
    database_url: str

    async def user(self, name: str, referral_code: str | None = None) -> str:
        body = {"username": name, "email": f"{name}@example.com", "password": FOLLOWER_PASSWORD}
        if referral_code is not None:
            body["referral_code"] = referral_code
        response = await self.api.client.post("/api/auth/register", json=body)
        assert response.status_code == 201, response.text
        return await self.api.login(name, FOLLOWER_PASSWORD)

    async def get(self, path: str, token: str) -> Any:
        response = await self.api.client.get(path, headers=self.api.auth(token))
        assert response.status_code == 200, response.text
        return response.json()

    async def plan_id(self, name: str) -> str:
        plans = (await self.api.client.get("/api/payments/plans")).json()
        return str(next(p["id"] for p in plans if p["name"] == name))

    async def post_invoice(self, token: str, plan: str, currency: str | None = None) -> Any:
        return await self.api.client.post(
            "/api/payments/invoices",
            json={"plan": plan, "currency": currency},
            headers=self.api.auth(token),
        )

    async def invoice(self, token: str, plan: str = "Basic") -> dict[str, Any]:
        response = await self.post_invoice(token, await self.plan_id(plan), "usdt_trx")
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def deliver(self, body: dict[str, Any]) -> Any:
        return await self.api.client.post(f"{CALLBACK}?json=true", json=body)

    async def rows(self, table: Any) -> list[Any]:
        engine = create_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                return list((await connection.execute(select(table))).mappings())
        finally:
            await engine.dispose()


@asynccontextmanager
async def payments(database_url: str, **changes: Any) -> AsyncIterator[Payments]:
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    notifier = RecordingNotifier()
    with PlisioStub(API_KEY) as stub:
        options = {"plisio_base_url": stub.base_url, **changes}
        settings = make_settings(
            database_url, plisio_api_key=API_KEY, public_url=PUBLIC_URL, **options
        )
        async with running_platform(settings, ClockAndNotifier(clock, notifier)) as api:
            yield Payments(api, stub, clock, notifier, database_url)


async def test_default_plans_are_public_and_a_paid_invoice_activates_once(
    database_url: str,
) -> None:
    async with payments(database_url) as world:
        api = world.api
        plans = (await api.client.get("/api/payments/plans")).json()
        assert [(p["name"], p["price_usd"], p["duration_days"]) for p in plans] == [
            ("Basic", "29", 30),
            ("Pro", "79", 30),
            ("Enterprise", "199", 30),
        ]
        assert all(p["id"] for p in plans)

        referrer = await world.user("rita")
        code = (await world.get("/api/me", referrer))["referral_code"]
        alice = await world.user("alice", referral_code=code)
        invoice = await world.invoice(alice)
        assert invoice["status"] == "new"
        assert invoice["invoice_url"].startswith("https://plisio.net/invoice/")
        sent = world.stub.requests[-1][1]
        assert sent["order_number"] == invoice["id"]
        assert sent["source_currency"] == "USD"
        assert sent["source_amount"] == "29"
        assert sent["currency"] == "USDT_TRX"
        assert sent["email"] == "alice@example.com"
        assert sent["callback_url"] == f"{PUBLIC_URL}{CALLBACK}?json=true"

        txn = invoice["provider_txn_id"]
        world.stub.set_status(txn, "completed")
        body = world.stub.callback(txn, "completed")
        first = await world.deliver(body)
        assert first.status_code == 200, first.text
        assert first.json()["activated"] is True
        subscription = await world.get("/api/subscription", alice)
        assert subscription["active"] is True
        assert subscription["plan"] == "Basic"
        expected = world.clock.now() + timedelta(days=30)
        assert datetime.fromisoformat(subscription["expires_at"]) == expected

        # Plisio repeats callbacks: five more change nothing. (Deliveries racing each
        # other meet the compare-and-set in test_payment_repositories.)
        replies = [await world.deliver(body) for _ in range(5)]
        assert [r.status_code for r in replies] == [200] * 5
        assert not any(r.json()["activated"] for r in replies)
        assert await world.get("/api/subscription", alice) == subscription
        alice_id = (await world.get("/api/me", alice))["id"]
        assert world.notifier.users_told("payment.completed") == [alice_id]

        fetched = await world.get(f"/api/payments/invoices/{invoice['id']}", alice)
        assert fetched["status"] == "completed"
        assert fetched["completed_at"] is not None
        assert [i["id"] for i in await world.get("/api/payments", alice)] == [invoice["id"]]

        # The referrer earns 10 % (the default) of 29 USD once, and sees who they brought.
        mine = await world.get("/api/referrals", referrer)
        assert [u["username"] for u in mine["referred"]] == ["alice"]
        assert [(c["amount_usd"], c["paid"]) for c in mine["commissions"]] == [("2.9", False)]
        assert len(await world.rows(referral_commissions)) == 1

        # A renewal before expiry extends from the current expiry.
        world.clock.advance(timedelta(days=10))
        renewal = await world.invoice(alice)
        world.stub.set_status(renewal["provider_txn_id"], "mismatch")  # overpaid: complete
        reply = await world.deliver(world.stub.callback(renewal["provider_txn_id"], "mismatch"))
        assert reply.json()["activated"] is True, reply.text
        renewed = await world.get("/api/subscription", alice)
        assert datetime.fromisoformat(renewed["expires_at"]) == expected + timedelta(days=30)
        commissions = (await world.get("/api/referrals", referrer))["commissions"]
        assert [c["amount_usd"] for c in commissions] == ["2.9", "2.9"]


@pytest.mark.parametrize("raw_utf8", [False, True], ids=["python-sdk", "node-example"])
async def test_a_callback_with_text_outside_ascii_is_believed_either_way_it_is_signed(
    sqlite_url: str, raw_utf8: bool
) -> None:
    async with payments(sqlite_url) as world:
        alice = await world.user("alice")
        invoice = await world.invoice(alice)
        txn = invoice["provider_txn_id"]
        world.stub.set_status(txn, "completed")
        body = world.stub.callback(
            txn, "completed", raw_utf8=raw_utf8, order_name="Pro — Plus 订阅", comment="Оплачено"
        )
        response = await world.api.client.post(
            f"{CALLBACK}?json=true",
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["activated"] is True


async def test_a_form_encoded_callback_is_refused_and_audited(sqlite_url: str) -> None:
    async with payments(sqlite_url) as world:
        alice = await world.user("alice")
        invoice = await world.invoice(alice)
        response = await world.api.client.post(
            CALLBACK,
            data={"txn_id": invoice["provider_txn_id"], "status": "completed"},
        )
        assert response.status_code == 422
        assert "?json=true" in response.json()["detail"]
        audited = [
            row
            for row in await world.rows(audit_events)
            if row["action"] == "payment.callback_rejected"
        ]
        assert len(audited) == 1
        assert (await world.get("/api/subscription", alice))["active"] is False


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda body: body.update(source_amount="2900"), id="amount"),
        pytest.param(lambda body: body.update(status="completed"), id="status"),
        pytest.param(lambda body: body.pop("verify_hash"), id="unsigned"),
    ],
)
async def test_a_tampered_or_unsigned_callback_is_refused_audited_and_changes_nothing(
    database_url: str, tamper: Callable[[dict[str, Any]], None]
) -> None:
    async with payments(database_url) as world:
        alice = await world.user("alice")
        invoice = await world.invoice(alice)
        txn = invoice["provider_txn_id"]
        body = world.stub.callback(txn, "pending")
        tamper(body)
        world.stub.set_status(txn, "completed")  # even a paid invoice is not granted by it

        response = await world.deliver(body)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "verify_hash"
        assert (await world.get("/api/subscription", alice))["active"] is False
        assert (await world.get(f"/api/payments/invoices/{invoice['id']}", alice))[
            "status"
        ] == "new"
        audited = [
            row
            for row in await world.rows(audit_events)
            if row["action"] == "payment.callback_rejected"
        ]
        assert len(audited) == 1
        assert audited[0]["target"] == f"invoice:{invoice['id']}"
        assert API_KEY not in audited[0]["details"]


async def test_a_callback_whose_status_plisio_does_not_confirm_grants_nothing(
    database_url: str,
) -> None:
    async with payments(database_url) as world:
        alice = await world.user("alice")
        invoice = await world.invoice(alice)
        txn = invoice["provider_txn_id"]
        world.stub.set_status(txn, "pending")  # Plisio's own record says: not paid yet
        response = await world.deliver(world.stub.callback(txn, "completed"))
        assert response.status_code == 200, response.text
        assert response.json()["activated"] is False
        assert response.json()["invoice_status"] == "pending"
        assert (await world.get("/api/subscription", alice))["active"] is False

        world.stub.set_status(txn, "expired")
        response = await world.deliver(world.stub.callback(txn, "expired"))
        assert response.json()["invoice_status"] == "expired"
        status = (await world.get(f"/api/payments/invoices/{invoice['id']}", alice))["status"]
        assert status == "expired"


async def test_a_callback_that_overtakes_the_invoice_is_refused_then_accepted_on_redelivery(
    database_url: str,
) -> None:
    async with payments(database_url) as world:
        alice = await world.user("alice")
        early: list[tuple[int, dict[str, Any]]] = []

        def pay_before_answering(created: Any) -> None:
            # Runs on the stub's thread while the app waits for Plisio's answer.
            world.stub.set_status(created.txn_id, "completed")
            body = world.stub.callback(created.txn_id, "completed")
            early.append((asyncio.run(world.deliver(body)).status_code, body))

        world.stub.on_create = pay_before_answering
        invoice = await world.invoice(alice)
        [(status, body)] = early
        assert status == 404  # not recorded yet: nothing happens, Plisio delivers again
        assert (await world.get("/api/subscription", alice))["active"] is False

        again = await world.deliver(body)
        assert again.status_code == 200, again.text
        assert again.json()["activated"] is True
        assert again.json()["invoice_id"] == invoice["id"]
        assert (await world.get("/api/subscription", alice))["active"] is True


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def httpx_log() -> Iterator[Collect]:
    """httpx's own log, caught at its logger: the app's logging setup replaces root
    handlers, so pytest's caplog would not see these records."""
    logger, collect = logging.getLogger("httpx"), Collect()
    level = logger.level
    logger.addHandler(collect)
    logger.setLevel(logging.DEBUG)
    yield collect
    logger.removeHandler(collect)
    logger.setLevel(level)


async def test_plisio_unreachable_or_refusing_is_a_clear_502_and_nothing_is_created(
    database_url: str, httpx_log: Collect
) -> None:
    async with payments(
        database_url, plisio_base_url=f"http://127.0.0.1:{_closed_port()}"
    ) as world:
        alice = await world.user("alice")
        response = await world.post_invoice(alice, "Pro")
        assert response.status_code == 502, response.text
        assert "Plisio could not be reached" in response.json()["detail"]
        assert await world.get("/api/payments", alice) == []
        assert await world.rows(invoices) == []
    async with payments(database_url) as world:
        bob = await world.user("bob")
        world.stub.refuse_next = "currency USDT_TRX is disabled in the shop settings"
        response = await world.post_invoice(bob, "Pro")
        assert response.status_code == 502, response.text
        assert "USDT_TRX is disabled" in response.json()["detail"]
        assert await world.rows(invoices) == []
        await world.invoice(bob)  # and the next attempt works
    to_plisio = [line for line in httpx_log.lines if "/api/v1/invoices/new" in line]
    assert len(to_plisio) == 2  # the refused request and the one that worked
    assert all("api_key=[redacted]" in line for line in to_plisio)
    assert not any(API_KEY in line for line in httpx_log.lines)
    assert API_KEY not in response.text


async def _until(condition: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def _rounds(clock: FixedClock, count: int = 10) -> None:
    """Waits until the clock was asked `count` more times: the expiry job asks once a round
    (every 20 ms here; the other embedded jobs, seconds apart, ask far more rarely)."""
    target = clock.reads + count
    await _until(lambda: clock.reads >= target)


async def test_expiry_job_notifies_three_days_before_and_at_expiry_once_each(
    database_url: str,
) -> None:
    async with payments(
        database_url, subscription_check_interval=timedelta(milliseconds=20)
    ) as world:
        api = world.api
        alice = await world.user("alice")
        alice_id = (await world.get("/api/me", alice))["id"]
        granted = await api.client.post(
            f"/api/admin/users/{alice_id}/subscription",
            json={"plan": "Pro", "days": 10},
            headers=api.auth(api.admin_token),
        )
        assert granted.status_code == 200, granted.text
        expires = datetime.fromisoformat(granted.json()["expires_at"])
        assert expires == world.clock.now() + timedelta(days=10)
        grants = [
            r for r in await world.rows(audit_events) if r["action"] == "subscription.granted"
        ]
        assert [g["target"] for g in grants] == [f"user:{alice_id}"]

        world.clock.set(expires - timedelta(days=3, seconds=1))
        await _rounds(world.clock)
        assert world.notifier.sent == []

        world.clock.set(expires - timedelta(days=3))
        await _until(lambda: world.notifier.users_told("subscription.expiring") == [alice_id])

        world.clock.set(expires - timedelta(microseconds=1))
        await _rounds(world.clock)
        assert (await world.get("/api/subscription", alice))["active"] is True
        assert world.notifier.users_told("subscription.expired") == []

        world.clock.set(expires)
        await _until(lambda: world.notifier.users_told("subscription.expired") == [alice_id])
        assert (await world.get("/api/subscription", alice))["active"] is False
        await _rounds(world.clock)
        assert world.notifier.users_told("subscription.expiring") == [alice_id]
        assert world.notifier.users_told("subscription.expired") == [alice_id]


async def test_required_subscription_skips_unsubscribed_followers_entries(
    database_url: str,
) -> None:
    async with payments(database_url) as world:
        api = world.api
        admin = api.auth(api.admin_token)
        settings = await api.client.put(
            "/api/admin/settings/payments",
            json={"referral_commission_perc": "12.5", "require_subscription": True},
            headers=admin,
        )
        assert settings.status_code == 200, settings.text
        paying, paying_account = await api.follower("paying")
        _free, free_account = await api.follower("free")
        paying_id = (await world.get("/api/me", paying))["id"]
        grant = await api.client.post(
            f"/api/admin/users/{paying_id}/subscription",
            json={"plan": "Basic", "days": 30},
            headers=admin,
        )
        assert grant.status_code == 200, grant.text

        signal = await api.signal(symbol="BTCUSDT", action="long")
        report = await api.settled_report(signal["signal_id"])
        outcome = {a["exchange_account_id"]: a for a in report["accounts"]}
        assert outcome[paying_account]["status"] == "filled"
        assert outcome[free_account]["status"] == "skipped"
        assert outcome[free_account]["reason"] == "no active subscription"


async def test_admin_manages_plans_and_marks_referral_payouts(database_url: str) -> None:
    async with payments(database_url) as world:
        api = world.api
        admin = api.auth(api.admin_token)
        plan = {
            "name": "Lifetime",
            "price_usd": "999.99",
            "duration_days": 3650,
            "max_exchange_connections": 5,
            "features": ["everything"],
        }
        created = await api.client.post("/api/admin/plans", json=plan, headers=admin)
        assert created.status_code == 201, created.text
        plan_id = created.json()["id"]
        twice = await api.client.post(
            "/api/admin/plans", json={**plan, "name": "lifetime"}, headers=admin
        )
        assert twice.status_code == 409, twice.text
        bad = await api.client.post(
            "/api/admin/plans", json={**plan, "name": "Cheap", "price_usd": "0"}, headers=admin
        )
        assert bad.status_code == 422
        assert bad.json()["field"] == "price_usd"
        changed = await api.client.put(
            f"/api/admin/plans/{plan_id}", json={**plan, "price_usd": "899"}, headers=admin
        )
        assert changed.json()["price_usd"] == "899"
        referrer = await world.user("rita")
        forbidden = await api.client.post("/api/admin/plans", json=plan, headers=api.auth(referrer))
        assert forbidden.status_code == 403

        code = (await world.get("/api/me", referrer))["referral_code"]
        buyer = await world.user("bob", referral_code=code)
        invoice = await world.invoice(buyer, plan="Lifetime")
        world.stub.set_status(invoice["provider_txn_id"], "completed")
        paid = await world.deliver(world.stub.callback(invoice["provider_txn_id"], "completed"))
        assert paid.json()["activated"] is True

        deleted = await api.client.delete(f"/api/admin/plans/{plan_id}", headers=admin)
        assert deleted.status_code == 204
        public = (await api.client.get("/api/payments/plans")).json()
        assert "Lifetime" not in [p["name"] for p in public]
        listed = (await api.client.get("/api/admin/plans", headers=admin)).json()
        assert [p["active"] for p in listed if p["name"] == "Lifetime"] == [False]

        referrer_id = (await world.get("/api/me", referrer))["id"]
        [summary] = (await api.client.get("/api/admin/referrals", headers=admin)).json()
        assert (summary["referrer_id"], summary["unpaid_usd"]) == (referrer_id, "89.9")
        payout = await api.client.post(f"/api/admin/referrals/{referrer_id}/payout", headers=admin)
        assert payout.status_code == 201, payout.text
        assert payout.json()["amount_usd"] == "89.9"
        again = await api.client.post(f"/api/admin/referrals/{referrer_id}/payout", headers=admin)
        assert again.status_code == 409
        mine = await world.get("/api/referrals", referrer)
        assert (mine["earned_usd"], mine["unpaid_usd"]) == ("89.9", "0")
        assert [c["paid"] for c in mine["commissions"]] == [True]


async def test_admin_user_patch_grants_a_subscription_or_refuses_the_whole_edit(
    sqlite_url: str,
) -> None:
    async with payments(sqlite_url) as world:
        api = world.api
        alice = await world.user("alice")
        alice_id = (await world.get("/api/me", alice))["id"]
        path = f"/api/admin/users/{alice_id}"

        refused = await api.client.patch(
            path,
            json={"paused": True, "subscription": {"plan": "No such plan", "days": 30}},
            headers=api.auth(api.admin_token),
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "plan"
        assert (await world.get("/api/me", alice))["settings"]["paused"] is False
        assert (await world.get("/api/subscription", alice))["active"] is False

        granted = await api.client.patch(
            path,
            json={"paused": True, "subscription": {"plan": "Pro", "days": 30}},
            headers=api.auth(api.admin_token),
        )
        assert granted.status_code == 200, granted.text
        assert (await world.get("/api/me", alice))["settings"]["paused"] is True
        subscription = await world.get("/api/subscription", alice)
        assert subscription["active"] is True
        expires = datetime.fromisoformat(subscription["expires_at"])
        assert expires == world.clock.now() + timedelta(days=30)
