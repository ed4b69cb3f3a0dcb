"""The OpenAPI document is the contract: schemathesis (pinned in the dev extra) fuzzes every
operation of the real app, served on a fresh database, with all its checks (docs/api-contract.md).

A follower's token is used for their routes and the admin's for the admin ones
(contract_hooks.py); schemathesis.toml names the few documented exceptions.
"""

import asyncio
import json
import os
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from mimic.application.throttle import Limit, RateLimits
from mimic.entrypoints.http.security import PUBLIC_PATHS
from tests.integration.harness import FOLLOWER_PASSWORD, make_settings, running_platform
from tests.integration.served import served_platform

HERE = Path(__file__).parent
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Every route of the document; others add routes, never fewer than this many.
AT_LEAST_OPERATIONS = 85
EXAMPLES_PER_OPERATION = "25"
SEED = "20261204"
# The run signs in and up many times (a fresh user per sign-out): not what the limits guard.
ROOMY = Limit(100_000, timedelta(minutes=1))


async def test_every_operation_keeps_the_documented_contract(
    sqlite_url: str, tmp_path: Path
) -> None:
    limits = RateLimits(login_per_ip=ROOMY, login_per_account=ROOMY, register_per_ip=ROOMY)
    async with served_platform(make_settings(sqlite_url, rate_limits=limits)) as served:
        admin_token = await served.admin_token()
        registered = await served.client.post(
            "/api/auth/register",
            json={
                "username": "fuzzer",
                "email": "fuzzer@example.com",
                "password": FOLLOWER_PASSWORD,
            },
        )
        assert registered.status_code == 201, registered.text
        signed_in = await served.client.post(
            "/api/auth/login", json={"username": "fuzzer", "password": FOLLOWER_PASSWORD}
        )
        served.client.cookies.clear()
        report_path = tmp_path / "schemathesis.json"
        run = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS),
            "--config-file",
            str(HERE / "schemathesis.toml"),
            "run",
            f"{served.base_url}/schema/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            EXAMPLES_PER_OPERATION,
            "--seed",
            SEED,
            "--workers",
            "1",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            str(report_path),
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tests.integration.entrypoints.http.contract_hooks",
                "CONTRACT_BASE_URL": served.base_url,
                "CONTRACT_ADMIN_TOKEN": admin_token,
                "CONTRACT_USER_TOKEN": signed_in.json()["access_token"],
                "CONTRACT_PASSWORD": FOLLOWER_PASSWORD,
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(run.communicate(), timeout=600)

    text = output.decode(errors="replace")
    report = json.loads(report_path.read_text())
    assert report["operations"]["tested"] >= AT_LEAST_OPERATIONS, text
    assert report["failures"] == [], text
    assert report["errors"] == [], text
    assert run.returncode == 0, text


async def test_the_document_states_security_and_errors_per_route(sqlite_url: str) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        document = (await api.client.get("/schema/openapi.json")).json()

    schemes = document["components"]["securitySchemes"]
    assert schemes["BearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["BearerToken"]["description"],
    }
    assert (schemes["SessionCookie"]["type"], schemes["SessionCookie"]["in"]) == (
        "apiKey",
        "cookie",
    )
    assert document["security"] == [{"BearerToken": []}, {"SessionCookie": []}]
    operations = _operations(document)
    public = {name for name, operation in operations.items() if operation.get("security") == []}
    assert {
        "GET /health",
        "POST /webhook",
        "POST /api/auth/register",
        "POST /api/auth/login",
        "POST /api/auth/password/forgot",
        "POST /api/auth/password/reset",
        "GET /api/leaderboard",
        "GET /api/payments/plans",
        "POST /api/payments/plisio/callback",
    } <= public
    assert len(public) == len(
        [name for name in operations if any(_matches(p, name) for p in PUBLIC_PATHS)]
    )
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    for name, operation in operations.items():
        responses = operation["responses"]
        expected = {"400"} if name in public else {"400", "401"}
        assert expected <= responses.keys(), name
        for status in responses.keys() - {"200", "201", "202", "204"}:
            assert responses[status]["content"]["application/json"]["schema"] == error_body
    assert {"404", "409"} <= operations["DELETE /api/admin/users/{user_id}"]["responses"].keys()
    assert "429" in operations["POST /api/auth/login"]["responses"]
    assert "503" in operations["GET /health/ready"]["responses"]
    preview = operations["GET /api/signals/preview"]["parameters"]
    assert next(p for p in preview if p["name"] == "symbol")["required"] is True
    webhook = operations["POST /webhook"]["requestBody"]["content"]
    assert {"application/json", "text/plain"} <= webhook.keys()


async def test_json_is_read_strictly_and_refusals_are_422(sqlite_url: str) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        admin = api.auth(api.admin_token)
        for change in ({"paused": 0}, {"risk_perc": "abc"}, {"leverage": "5"}, {"nope": 1}):
            refused = await api.client.patch("/api/me/settings", json=change, headers=admin)
            assert refused.status_code == 422, (change, refused.text)
            assert refused.json()["extra"], refused.text
        unreadable = await api.client.patch(
            "/api/me/settings",
            content=b'{"paused": ',
            headers={**admin, "content-type": "application/json"},
        )
        assert unreadable.status_code == 400
        options = await api.client.options("/api/exchanges")
        assert set(options.headers["allow"].split(", ")) == {"GET", "POST", "OPTIONS"}
        document = (await api.client.get("/schema/openapi.json")).json()
        for path, item in document["paths"].items():
            answer = await api.client.options(re.sub(r"\{[^}]+\}", "some-id", path))
            methods = {m.upper() for m in item} & {"GET", "PUT", "POST", "PATCH", "DELETE"}
            assert methods <= set(answer.headers["allow"].split(", ")), path


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    }


def _matches(pattern: str, name: str) -> bool:
    return re.match(pattern, name.split(" ", 1)[1]) is not None
