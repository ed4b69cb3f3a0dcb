"""Web hardening over real HTTP: one credential per request, bad input, quotas."""

import asyncio
from datetime import datetime

import pytest
from dishka import Provider, Scope, provide
from litestar.testing import AsyncTestClient

from mimic.domain.quotas import Quotas
from mimic.entrypoints.http.app import create_app
from mimic.ports.services import Clock
from tests.integration.entrypoints.http.test_accounts_http import (
    NEW_PASSWORD,
    audit,
    register,
    user_token,
)
from tests.integration.harness import (
    FOLLOWER_PASSWORD,
    PASSPHRASE,
    Api,
    make_settings,
    running_platform,
)


async def test_a_junk_authorization_header_does_not_skip_csrf_for_a_cookie_session(
    sqlite_url: str,
) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        await register(api, "carol")
        login = await api.client.post(
            "/api/auth/login", json={"username": "carol", "password": FOLLOWER_PASSWORD}
        )
        assert login.status_code == 200
        assert "mimic_session" in api.client.cookies
        for header in ("Bearer", "Bearer ", "x", "Basic abc", ""):
            forged = await api.client.patch(
                "/api/me/settings", json={"paused": True}, headers={"Authorization": header}
            )
            assert forged.status_code in (401, 403), (header, forged.text)
        me = await api.client.get("/api/me")
        assert me.status_code == 200
        assert me.json()["settings"]["paused"] is False
        bearer = await api.client.patch(
            "/api/me/settings",
            json={"paused": True},
            headers=Api.auth(login.json()["access_token"]),
        )
        assert bearer.status_code == 200  # a real bearer token still needs no CSRF token


# --- password change ----------------------------------------------------------------------------


async def test_password_change_guesses_are_throttled_and_lock_the_account(
    postgres_url: str,
) -> None:
    async with running_platform(make_settings(postgres_url)) as api:
        token = await user_token(api, "greta")
        guess = {"current_password": "is it this one?", "new_password": NEW_PASSWORD}
        responses = await asyncio.gather(
            *(
                api.client.post("/api/auth/password/change", json=guess, headers=Api.auth(token))
                for _ in range(60)
            )
        )
        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {403, 429}
        # Five per account in 15 minutes reach the password check; the rest wait.
        assert statuses.count(403) <= 5
        assert all(int(r.headers["retry-after"]) >= 1 for r in responses if r.status_code == 429)
        found = await api.client.get(
            "/api/admin/users", params={"q": "greta"}, headers=Api.auth(api.admin_token)
        )
        [greta] = found.json()["users"]
        assert greta["failed_logins"] == statuses.count(403)
        # Each wrong guess was a failed sign-in: the account is locked, the right password too.
        assert greta["locked_until"] is not None
        locked = await api.client.post(
            "/api/auth/login", json={"username": "greta", "password": FOLLOWER_PASSWORD}
        )
        assert locked.status_code == 429
        failures = await audit(api, action="auth.login_failed")
        assert len(failures) == statuses.count(403)


# --- bad input is a 400; a 500 leaves a trace ---------------------------------------------------


async def test_nul_bytes_in_any_text_input_are_400(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        admin = Api.auth(api.admin_token)
        refused = [
            await api.client.post(
                "/webhook",
                json={"passphrase": PASSPHRASE, "symbol": "BTCUSDT", "action": "buy", "id": "a\0b"},
            ),
            await api.client.post(
                "/webhook",
                content=b'{"passphrase": "' + PASSPHRASE.encode() + b'", "id": "a\\u0000b"}',
                headers={"content-type": "text/plain"},
            ),
            await api.client.post(
                "/api/auth/login", json={"username": "adm\0in", "password": "whatever-it-is"}
            ),
            await api.client.post("/api/auth/password/forgot", json={"email": "a\0@example.com"}),
            await api.client.post(
                "/api/auth/register",
                json={"username": "nul\0l", "email": "n@example.com", "password": NEW_PASSWORD},
            ),
            await api.client.get("/api/admin/users", params={"q": "ad\0"}, headers=admin),
            await api.client.get("/api/admin/users/x%00y", headers=admin),
        ]
        for response in refused:
            assert response.status_code == 400, (response.request.url, response.text)
            assert "NUL" in response.json()["detail"]
        # An escaped backslash before "u0000" is the six characters, not a NUL.
        text = await api.client.post(
            "/api/auth/login",
            content=b'{"username": "a\\\\u0000", "password": "whatever-it-is"}',
            headers={"content-type": "application/json"},
        )
        assert text.status_code == 401
        users = await api.client.get("/api/admin/users", params={"q": "ad"}, headers=admin)
        assert users.status_code == 200
        assert [u["username"] for u in users.json()["users"]] == ["admin"]


async def test_absurdly_nested_json_is_refused(sqlite_url: str) -> None:
    deep = b"[" * 20_000 + b"]" * 20_000
    async with running_platform(make_settings(sqlite_url)) as api:
        webhook = await api.client.post(
            "/webhook", content=b'{"passphrase": "x", "id": ' + deep + b"}"
        )
        assert webhook.status_code == 400, webhook.text
        login = await api.client.post(
            "/api/auth/login",
            content=b'{"username": ' + deep + b', "password": "whatever-it-is"}',
            headers={"content-type": "application/json"},
        )
        # Decoded against its schema, the body is refused at the array's first bracket.
        assert login.status_code == 422, login.text
        assert login.json()["extra"][0]["key"] == "username"


class FailingClock(Clock):
    def now(self) -> datetime:
        raise RuntimeError("clock broke")


class BrokenClock(Provider):
    """A clock that fails: any route reading it hits an unexpected error."""

    @provide(scope=Scope.APP)
    def clock(self) -> Clock:
        return FailingClock()


async def test_a_500_logs_a_traceback_under_the_request_id_it_answers_with(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(make_settings(sqlite_url), BrokenClock(), embedded_worker=False)
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/api/leaderboard")
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert response.json()["request_id"] == request_id
    assert "clock broke" not in response.text  # the detail stays in the log
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert "clock broke" in str(logged[0].exc_info[1])


# --- one account per name and address, whatever the case ---------------------------------------


async def test_case_variants_of_a_username_or_email_are_refused(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        assert (await register(api, "Hanna")).status_code == 201
        for username, email in (("hanna", "other@example.com"), ("HANNA", "x@example.com")):
            variant = await api.client.post(
                "/api/auth/register",
                json={"username": username, "email": email, "password": NEW_PASSWORD},
            )
            assert variant.status_code == 409, variant.text
            assert "username is taken" in variant.json()["detail"]
        same_email = await api.client.post(
            "/api/auth/register",
            json={"username": "hanna2", "email": "HANNA@Example.COM", "password": NEW_PASSWORD},
        )
        assert same_email.status_code == 409
        found = await api.client.get(
            "/api/admin/users", params={"q": "hanna"}, headers=Api.auth(api.admin_token)
        )
        assert [u["username"] for u in found.json()["users"]] == ["Hanna"]
        wrong_case = await api.client.post(
            "/api/auth/login", json={"username": "hanna", "password": FOLLOWER_PASSWORD}
        )
        assert wrong_case.status_code == 401  # sign-in stays exact: the name as registered


async def test_whitespace_only_passwords_are_refused(sqlite_url: str) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        for blank in (" " * 12, "\t \n" * 5, "\u00a0" * 16):
            refused = await register(api, "ivy", blank)
            assert refused.status_code == 422, refused.text
            assert "whitespace" in refused.json()["detail"]
        token = await user_token(api, "ivy")
        change = await api.client.post(
            "/api/auth/password/change",
            json={"current_password": FOLLOWER_PASSWORD, "new_password": " " * 20},
            headers=Api.auth(token),
        )
        assert change.status_code == 422


# --- per-user quotas ----------------------------------------------------------------------------


async def test_quotas_answer_429_with_retry_after(database_url: str) -> None:
    quotas = Quotas(messages_per_hour=2, exchange_connections=1)
    async with running_platform(make_settings(database_url, quotas=quotas)) as api:
        jay = Api.auth(await user_token(api, "jay"))
        first = await api.client.post("/api/messages", json={"body": "one"}, headers=jay)
        assert first.status_code == 201, first.text
        thread = first.json()["id"]
        second = await api.client.post(
            f"/api/messages/threads/{thread}/reply", json={"body": "two"}, headers=jay
        )
        assert second.status_code == 201, second.text
        third = await api.client.post("/api/messages", json={"body": "three"}, headers=jay)
        assert third.status_code == 429, third.text
        assert 3000 < int(third.headers["retry-after"]) <= 3600  # when the first is an hour old
        assert "at most 2 messages per hour" in third.json()["detail"]
        threads = (await api.client.get("/api/messages/threads", headers=jay)).json()
        assert [t["messages"] for t in threads] == [2]

        paper = await api.client.post("/api/exchanges", json={"exchange": "paper"}, headers=jay)
        assert paper.status_code == 201, paper.text
        another = await api.client.post(
            "/api/exchanges", json={"exchange": "paper", "label": "second"}, headers=jay
        )
        assert another.status_code == 429, another.text
        assert int(another.headers["retry-after"]) >= 1
        assert len((await api.client.get("/api/exchanges", headers=jay)).json()) == 1
