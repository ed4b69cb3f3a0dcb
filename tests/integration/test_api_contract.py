"""The OpenAPI document is the contract: schemathesis (pinned in the dev extra) fuzzes every
operation of the real app, served on a fresh database, with all its checks (docs/api-contract.md).

A follower's token is used for their routes and the admin's for the admin ones
(contract_hooks.py); schemathesis.toml names the few documented exceptions.
"""

import asyncio
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

from mimic.application.throttle import Limit, RateLimits
from tests.integration.harness import FOLLOWER_PASSWORD, make_settings
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
                "SCHEMATHESIS_HOOKS": "tests.integration.contract_hooks",
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
