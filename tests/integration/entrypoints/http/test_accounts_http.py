"""Accounts over real HTTP on SQLite and Postgres: sign-up to reset, admin, audit, messages."""

import asyncio
import re
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from mimic.adapters.sqlalchemy.engine import create_engine
from mimic.adapters.sqlalchemy.tables import notification_outbox
from mimic.application.throttle import Limit, RateLimits
from mimic.entrypoints.http.app import create_app
from tests.integration.harness import (
    FOLLOWER_PASSWORD,
    Api,
    CheapHasherProvider,
    make_settings,
    running_platform,
)
from tests.stubs.smtp import Inbox, smtp_server

NEW_PASSWORD = "an entirely new passphrase"


async def register(api: Api, username: str, password: str = FOLLOWER_PASSWORD) -> Any:
    return await api.client.post(
        "/api/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": password},
    )


async def user_token(api: Api, username: str) -> str:
    response = await register(api, username)
    assert response.status_code == 201, response.text
    return await api.login(username, FOLLOWER_PASSWORD)


async def audit(api: Api, **query: str) -> list[dict[str, Any]]:
    response = await api.client.get(
        "/api/admin/audit", params=query, headers=Api.auth(api.admin_token)
    )
    assert response.status_code == 200, response.text
    return list(response.json())


# --- registration, sign-in, revocation -------------------------------------------------------


async def test_register_login_me_and_bad_input(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        assert (await register(api, "alice")).status_code == 201
        duplicate = await register(api, "alice")
        assert duplicate.status_code == 409
        assert "username is taken" in duplicate.json()["detail"]
        same_email = await api.client.post(
            "/api/auth/register",
            json={"username": "alice2", "email": "ALICE@example.com", "password": NEW_PASSWORD},
        )
        assert same_email.status_code == 409
        assert "email" in same_email.json()["detail"]
        weak = await register(api, "bob", "password123")
        assert weak.status_code == 422
        assert "most common passwords" in weak.json()["detail"]
        short = await register(api, "bob", "short")
        assert short.status_code == 422
        assert "at least 10 characters" in short.json()["detail"]
        malformed = await api.client.post(
            "/api/auth/register",
            content=b'{"username": ',
            headers={"content-type": "application/json"},
        )
        assert malformed.status_code == 400
        oversized = await api.client.post(
            "/api/auth/register",
            content=b'{"username": "' + b"x" * (2 * 1024 * 1024) + b'"}',
            headers={"content-type": "application/json"},
        )
        assert oversized.status_code == 413
        unknown_field = await api.client.post(
            "/api/auth/register",
            json={"username": "carol", "email": "c@example.com", "password": NEW_PASSWORD, "x": 1},
        )
        assert unknown_field.status_code == 422
        assert (await api.client.get("/api/auth/login")).status_code == 405

        wrong = await api.client.post(
            "/api/auth/login", json={"username": "alice", "password": "nope nope nope"}
        )
        assert wrong.status_code == 401
        token = await api.login("alice", FOLLOWER_PASSWORD)
        me = await api.client.get("/api/me", headers=Api.auth(token))
        assert me.status_code == 200
        assert (me.json()["username"], me.json()["role"]) == ("alice", "user")

        failures = await audit(api, action="auth.login_failed")
        assert failures[0]["target"] == f"user:{me.json()['id']}"
        assert failures[0]["ip"] == "testclient"
        assert (await audit(api, action="auth.login", actor_id=me.json()["id"]))[0]["ip"]


async def test_logout_and_password_change_revoke_every_earlier_token(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        first = await user_token(api, "alice")
        second = await api.login("alice", FOLLOWER_PASSWORD)
        wrong_current = await api.client.post(
            "/api/auth/password/change",
            json={"current_password": "not my password", "new_password": NEW_PASSWORD},
            headers=Api.auth(first),
        )
        assert wrong_current.status_code == 403
        weak_new = await api.client.post(
            "/api/auth/password/change",
            json={"current_password": FOLLOWER_PASSWORD, "new_password": "qwertyuiop"},
            headers=Api.auth(first),
        )
        assert weak_new.status_code == 422
        assert (await api.client.get("/api/me", headers=Api.auth(second))).status_code == 200

        changed = await api.client.post(
            "/api/auth/password/change",
            json={"current_password": FOLLOWER_PASSWORD, "new_password": NEW_PASSWORD},
            headers=Api.auth(first),
        )
        assert changed.status_code == 200, changed.text
        fresh = changed.json()["access_token"]
        api.client.cookies.clear()
        for old in (first, second):
            assert (await api.client.get("/api/me", headers=Api.auth(old))).status_code == 401
        assert (await api.client.get("/api/me", headers=Api.auth(fresh))).status_code == 200
        old_login = await api.client.post(
            "/api/auth/login", json={"username": "alice", "password": FOLLOWER_PASSWORD}
        )
        assert old_login.status_code == 401

        again = await api.login("alice", NEW_PASSWORD)
        logout = await api.client.post("/api/auth/logout", headers=Api.auth(again))
        assert logout.status_code == 204
        for token in (fresh, again):
            assert (await api.client.get("/api/me", headers=Api.auth(token))).status_code == 401
        actions = [e["action"] for e in await audit(api, action="auth.")]
        assert "auth.password_changed" in actions
        assert "auth.logout" in actions


# --- password reset over real SMTP -------------------------------------------------------------


async def test_password_reset_by_mail_round_trip(database_url: str) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        settings = make_settings(
            database_url,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_tls="none",
            mail_from="mimic@example.org",
        )
        async with running_platform(settings) as api:
            token = await user_token(api, "alice")
            unknown = await api.client.post(
                "/api/auth/password/forgot", json={"email": "nobody@example.com"}
            )
            known = await api.client.post(
                "/api/auth/password/forgot", json={"email": "Alice@Example.com"}
            )
            assert unknown.status_code == known.status_code == 202
            assert unknown.json() == known.json()
            to, subject, body = await inbox.next()
            assert inbox.mails.empty()  # the unknown address got nothing
            assert (to, subject) == ("alice@example.com", "Reset your Mimic password")
            match = re.search(r"^    (\S+)\r?$", body, re.MULTILINE)
            assert match, body
            code = match.group(1)

            async def reset(code: str, password: str = NEW_PASSWORD) -> Any:
                return await api.client.post(
                    "/api/auth/password/reset", json={"token": code, "new_password": password}
                )

            assert (await reset("not-a-code")).status_code == 400
            weak = await reset(code, "1234567890")
            assert weak.status_code == 422  # and the code is still good:
            assert (await reset(code)).status_code == 200
            reused = await reset(code, "yet another new passphrase")
            assert reused.status_code == 400
            assert "unknown, used or expired" in reused.json()["detail"]
            assert (await api.client.get("/api/me", headers=Api.auth(token))).status_code == 401
            await api.login("alice", NEW_PASSWORD)
            actions = [e["action"] for e in await audit(api, action="auth.password_reset")]
            assert actions == ["auth.password_reset"]


# --- admin routes ------------------------------------------------------------------------------


# Under /api/signals but for followers too: each previews their own accounts, and reads a
# signal's outcome on their own accounts (docs/master-guide.md, docs/copy-fidelity.md).
FOLLOWER_ROUTES = frozenset({"/api/signals/preview", "/api/signals/{signal_id:str}"})


def admin_routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) under /api/admin and /api/signals, from the app's route table."""
    found = []
    for route in app.routes:
        if not route.path.startswith(("/api/admin", "/api/signals")):
            continue
        if route.path in FOLLOWER_ROUTES:
            continue
        path = re.sub(r"\{[^}:]+:[^}]+\}", "x", route.path)
        found.extend((method, path) for method in sorted(route.methods - {"HEAD", "OPTIONS"}))
    return found


async def test_every_admin_route_answers_401_without_a_token_and_403_to_a_user(
    sqlite_url: str,
) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        routes = admin_routes(api.client.app)
        assert ("GET", "/api/admin/users") in routes
        assert ("DELETE", "/api/admin/users/x") in routes
        assert ("GET", "/api/admin/audit") in routes
        assert len(routes) >= 12
        user = await user_token(api, "mallory")
        for method, path in routes:
            anonymous = await api.client.request(method, path, json={})
            assert anonymous.status_code == 401, (method, path)
            as_user = await api.client.request(method, path, json={}, headers=Api.auth(user))
            assert as_user.status_code == 403, (method, path)


async def test_admin_manages_users(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        admin = Api.auth(api.admin_token)
        tokens = {name: await user_token(api, name) for name in ("ann", "bob", "bobby", "cat")}
        page = await api.client.get("/api/admin/users", params={"limit": 2}, headers=admin)
        assert page.status_code == 200
        assert page.json()["total"] == 5  # the admin too
        assert [u["username"] for u in page.json()["users"]] == ["admin", "ann"]
        found = await api.client.get("/api/admin/users", params={"q": "BOB"}, headers=admin)
        assert [u["username"] for u in found.json()["users"]] == ["bob", "bobby"]
        bob_id = found.json()["users"][0]["id"]

        edited = await api.client.patch(
            f"/api/admin/users/{bob_id}",
            json={"paused": True, "max_risk_perc": "2.5", "max_leverage": 3},
            headers=admin,
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["settings"]["paused"] is True
        assert edited.json()["caps"] == {"max_risk_perc": "2.5", "max_leverage": 3}
        too_much = await api.client.patch(
            "/api/me/settings", json={"leverage": 4}, headers=Api.auth(tokens["bob"])
        )
        assert too_much.status_code == 422
        bad_cap = await api.client.patch(
            f"/api/admin/users/{bob_id}", json={"max_leverage": 0}, headers=admin
        )
        assert bad_cap.status_code == 422
        bad_role = await api.client.patch(
            f"/api/admin/users/{bob_id}", json={"role": "root"}, headers=admin
        )
        assert bad_role.status_code == 422

        promoted = await api.client.patch(
            f"/api/admin/users/{bob_id}", json={"role": "admin"}, headers=admin
        )
        assert promoted.json()["role"] == "admin"
        # A role change signs the person out: the old token no longer works.
        assert (await api.client.get("/api/me", headers=Api.auth(tokens["bob"]))).status_code == 401
        bob_admin = await api.login("bob", FOLLOWER_PASSWORD)
        assert (
            await api.client.get("/api/admin/users", headers=Api.auth(bob_admin))
        ).status_code == 200
        me = (await api.client.get("/api/me", headers=admin)).json()
        self_demote = await api.client.patch(
            f"/api/admin/users/{me['id']}", json={"role": "user"}, headers=admin
        )
        assert self_demote.status_code == 409

        cat_id = (await api.client.get("/api/me", headers=Api.auth(tokens["cat"]))).json()["id"]
        assert (
            await api.client.delete(f"/api/admin/users/{cat_id}", headers=admin)
        ).status_code == 204
        assert (await api.client.get("/api/me", headers=Api.auth(tokens["cat"]))).status_code == 401
        login = await api.client.post(
            "/api/auth/login", json={"username": "cat", "password": FOLLOWER_PASSWORD}
        )
        assert login.status_code == 401
        listed = await api.client.get("/api/admin/users", params={"q": "cat"}, headers=admin)
        assert listed.json()["total"] == 0
        kept = await api.client.get(
            "/api/admin/users", params={"q": "cat", "include_deleted": "true"}, headers=admin
        )
        assert kept.json()["users"][0]["deleted_at"] is not None
        assert (await api.client.get("/api/admin/users/missing", headers=admin)).status_code == 404

        actions = {e["action"] for e in await audit(api, action="user.")}
        assert {"user.updated", "user.role_changed", "user.deleted"} <= actions
        role_change = (await audit(api, action="user.role_changed"))[0]
        assert role_change["actor_id"] == me["id"]
        assert role_change["details"]["role"] == "user -> admin"


async def test_settings_and_exchange_review_are_audited(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        await api.follower("dora", risk_perc="2")
        response = await api.client.put(
            "/api/admin/settings",
            json={
                "default_risk_perc": "1",
                "default_leverage": 3,
                "max_risk_perc": "5",
                "max_leverage": 10,
            },
            headers=Api.auth(api.admin_token),
        )
        assert response.status_code == 200
        actions = [e["action"] for e in await audit(api)]
        for action in (
            "settings.platform_changed",
            "exchange.approved",
            "settings.follower_changed",
        ):
            assert action in actions
        platform = (await audit(api, action="settings.platform_changed"))[0]
        assert platform["details"]["max_leverage"] == "20 -> 10"


# --- abuse protection --------------------------------------------------------------------------


async def test_failed_sign_ins_lock_the_account_with_retry_after(sqlite_url: str) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        await user_token(api, "erin")
        wrong = {"username": "erin", "password": "wrong password!"}
        for _ in range(5):
            assert (await api.client.post("/api/auth/login", json=wrong)).status_code == 401
        locked = await api.client.post(
            "/api/auth/login", json={"username": "erin", "password": FOLLOWER_PASSWORD}
        )
        assert locked.status_code == 429
        assert 1 <= int(locked.headers["retry-after"]) <= 61
        lock = (await audit(api, action="auth.locked"))[0]
        assert lock["details"] == {"seconds": "60", "failures": "5"}


async def test_concurrent_failed_sign_ins_are_all_counted(postgres_url: str) -> None:
    async with running_platform(make_settings(postgres_url)) as api:
        await user_token(api, "ivan")
        wrong = {"username": "ivan", "password": "wrong password!"}
        responses = await asyncio.gather(
            *(api.client.post("/api/auth/login", json=wrong) for _ in range(8))
        )
        statuses = sorted(r.status_code for r in responses)
        assert set(statuses) <= {401, 429}
        found = await api.client.get(
            "/api/admin/users", params={"q": "ivan"}, headers=Api.auth(api.admin_token)
        )
        [ivan] = found.json()["users"]
        # Each refused password counts exactly once, however the requests interleave.
        assert ivan["failed_logins"] == statuses.count(401)
        assert ivan["locked_until"] is not None


async def test_rate_limit_answers_429_with_retry_after(sqlite_url: str) -> None:
    limits = RateLimits(login_per_account=Limit(3, timedelta(minutes=1)))
    async with running_platform(make_settings(sqlite_url, rate_limits=limits)) as api:
        body = {"username": "nobody", "password": "whatever it is"}
        statuses = [
            (await api.client.post("/api/auth/login", json=body)).status_code for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        limited = await api.client.post("/api/auth/login", json=body)
        assert int(limited.headers["retry-after"]) >= 1
        assert "too many login requests" in limited.json()["detail"]


async def test_rate_limit_holds_across_two_app_processes_sharing_redis(
    sqlite_url: str, redis_url: str
) -> None:
    settings = make_settings(
        sqlite_url,
        redis_url=redis_url,
        queue_name=f"mimic-test-{uuid.uuid4().hex[:8]}",
        rate_limits=RateLimits(register_per_ip=Limit(3, timedelta(minutes=1))),
    )
    async with running_platform(settings) as first:
        app = create_app(settings, CheapHasherProvider())
        async with AsyncTestClient(app=app, timeout=30) as second_client:
            second = Api(client=second_client, admin_token="")
            statuses = [
                (await register(api, f"user{n}")).status_code
                for n, api in enumerate([first, second, first, second, first])
            ]
    assert statuses == [201, 201, 201, 429, 429]


# --- web security ------------------------------------------------------------------------------


async def test_security_headers_cookie_session_csrf_and_cors(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, cors_origins=("https://app.example.com",))
    async with running_platform(settings) as api:
        openapi = await api.client.get("/schema/openapi.json")
        assert openapi.status_code == 200
        assert {"/api/admin/users", "/api/messages/unread"} <= set(openapi.json()["paths"])
        for path in ("/health", "/does-not-exist", "/api/me"):
            headers = (await api.client.get(path)).headers
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert headers["referrer-policy"] == "no-referrer"
            assert "strict-transport-security" not in headers  # plain http here

        await register(api, "finn")
        login = await api.client.post(
            "/api/auth/login", json={"username": "finn", "password": FOLLOWER_PASSWORD}
        )
        assert "httponly" in login.headers["set-cookie"].lower()
        csrf = api.client.cookies["mimic_csrf"]
        assert (await api.client.get("/api/me")).json()["username"] == "finn"  # by cookie
        no_csrf = await api.client.patch("/api/me/settings", json={"paused": True})
        assert no_csrf.status_code == 403
        assert "CSRF" in no_csrf.json()["detail"]
        with_csrf = await api.client.patch(
            "/api/me/settings", json={"paused": True}, headers={"X-CSRF-Token": csrf}
        )
        assert with_csrf.status_code == 200
        bearer = await api.client.patch(
            "/api/me/settings",
            json={"paused": False},
            headers=Api.auth(login.json()["access_token"]),
        )
        assert bearer.status_code == 200  # a bearer token needs no CSRF token
        webhook = await api.client.post("/webhook", json={"passphrase": "wrong"})
        assert webhook.status_code != 403  # exempt: TradingView holds no cookie

        preflight = {"access-control-request-method": "POST"}
        allowed = await api.client.options(
            "/api/auth/login", headers={"origin": "https://app.example.com", **preflight}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        other = await api.client.options(
            "/api/auth/login", headers={"origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in other.headers

    https = replace(make_settings(sqlite_url), public_url="https://mimic.example.com")
    app = create_app(https, CheapHasherProvider())
    async with AsyncTestClient(app=app) as client:
        assert "max-age" in (await client.get("/health")).headers["strict-transport-security"]


# --- messages ----------------------------------------------------------------------------------


async def test_messages_between_users_and_admins(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        admin = Api.auth(api.admin_token)
        gail = Api.auth(await user_token(api, "gail"))
        hank = Api.auth(await user_token(api, "hank"))
        gail_id = (await api.client.get("/api/me", headers=gail)).json()["id"]
        sent = await api.client.post(
            "/api/messages", json={"subject": "Fees", "body": "How are fees charged?"}, headers=gail
        )
        assert sent.status_code == 201, sent.text
        thread_id = sent.json()["id"]
        assert (await api.client.get("/api/messages/unread", headers=admin)).json() == {"unread": 1}
        assert (await api.client.get("/api/messages/unread", headers=gail)).json() == {"unread": 0}

        threads = (await api.client.get("/api/messages/threads", headers=admin)).json()
        assert [(t["subject"], t["unread"], t["messages"]) for t in threads] == [("Fees", 1, 1)]
        read = await api.client.post(f"/api/messages/threads/{thread_id}/read", headers=admin)
        assert read.json() == {"unread": 0}
        reply = await api.client.post(
            f"/api/messages/threads/{thread_id}/reply", json={"body": "Monthly."}, headers=admin
        )
        assert reply.status_code == 201
        assert reply.json()["from_admin"] is True
        assert (await api.client.get("/api/messages/unread", headers=gail)).json() == {"unread": 1}
        detail = (await api.client.get(f"/api/messages/threads/{thread_id}", headers=gail)).json()
        assert [m["body"] for m in detail["messages"]] == ["How are fees charged?", "Monthly."]
        await api.client.post(f"/api/messages/threads/{thread_id}/read", headers=gail)
        assert (await api.client.get("/api/messages/unread", headers=gail)).json() == {"unread": 0}

        # Another user sees nothing of it; an admin can open a thread with a user.
        assert (
            await api.client.get(f"/api/messages/threads/{thread_id}", headers=hank)
        ).status_code == 404
        hank_reply = await api.client.post(
            f"/api/messages/threads/{thread_id}/reply", json={"body": "me too"}, headers=hank
        )
        assert hank_reply.status_code == 404
        hank_id = (await api.client.get("/api/me", headers=hank)).json()["id"]
        to_hank = await api.client.post(
            "/api/messages", json={"user_id": hank_id, "body": "Welcome aboard"}, headers=admin
        )
        assert to_hank.status_code == 201
        assert (await api.client.get("/api/messages/threads", headers=hank)).json()[0][
            "unread"
        ] == 1
        no_recipient = await api.client.post("/api/messages", json={"body": "hi"}, headers=admin)
        assert no_recipient.status_code == 422
        empty = await api.client.post("/api/messages", json={"body": "  "}, headers=gail)
        assert empty.status_code == 422

    # Each admin message queued its user a notification: none lost to a database lock.
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            outbox = notification_outbox.c
            query = select(outbox.user_id).where(outbox.event == "message.received")
            notified = sorted((await connection.execute(query)).scalars())
    finally:
        await engine.dispose()
    assert notified == sorted([gail_id, hank_id])
