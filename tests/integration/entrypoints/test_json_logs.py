"""A full run in production shape (webhook in this process, fan-out in a `mimic worker`
process) with MIMIC_LOG_FORMAT=json: every line is one JSON object naming its request,
signal and account, and no key, token or passphrase used anywhere appears in any line."""

import asyncio
import io
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mimic.adapters.crypto import generate_key
from mimic.entrypoints.logs import JsonFormatter, WorkContextFilter
from tests.integration.entrypoints.http.test_exchange_connections import (
    API_KEY,
    API_SECRET,
    checked,
    connect,
)
from tests.integration.harness import (
    ADMIN_PASSWORD,
    FOLLOWER_PASSWORD,
    PASSPHRASE,
    make_settings,
    running_platform,
)
from tests.integration.processes import production_env, running
from tests.stubs.binance import BinanceStub, running_in_thread

REQUEST_ID = "tv-alert-0001"


@pytest.fixture
def stub() -> Iterator[BinanceStub]:
    stub = BinanceStub()
    stub.add_account(API_KEY, API_SECRET)
    with running_in_thread(stub) as running_stub:
        yield running_stub


@contextmanager
def json_lines_of_this_process() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(WorkContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def parsed(text: str, where: str) -> list[dict[str, Any]]:
    lines = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            pytest.fail(f"{where}: not a JSON line: {raw!r}")
        assert isinstance(line, dict), raw
        assert {"time", "level", "logger", "message"} <= line.keys(), raw
        assert {"request_id", "signal_id", "account_id"} <= line.keys(), raw
        lines.append(line)
    return lines


async def worker_listening(log: Path, within: float = 60.0) -> None:
    """Its start-up (imports, warm-up) is not part of what the test waits for later."""
    deadline = time.monotonic() + within
    while "worker started" not in (text := await asyncio.to_thread(log.read_text)):
        assert time.monotonic() < deadline, text
        await asyncio.sleep(0.05)


async def test_a_full_run_logs_json_lines_with_its_ids_and_no_secret(
    postgres_url: str, redis_url: str, tmp_path: Path, stub: BinanceStub
) -> None:
    master_key = generate_key()
    secret_key = "jwt-secret-for-tests-" + "x" * 32
    env = production_env(
        postgres_url,
        redis_url,
        tmp_path,
        MIMIC_LOG_FORMAT="json",
        MIMIC_MASTER_KEYS=master_key,
        MIMIC_CCXT_URL_OVERRIDES=f"binanceusdm={stub.base_url}",
    )
    settings = make_settings(
        postgres_url,
        redis_url=redis_url,
        queue_name=env["MIMIC_QUEUE_NAME"],
        master_keys=(master_key,),
        ccxt_api_origins={"binanceusdm": stub.base_url},
    )
    worker_log = tmp_path / "worker.log"
    tokens = []
    with json_lines_of_this_process() as here:
        async with running_platform(settings, embedded_worker=False) as api:
            tokens.append(api.admin_token)
            with running("worker", env, worker_log):
                await worker_listening(worker_log)
                paper_token, paper_account = await api.follower("paula")
                live_token = await api.register("lena")
                tokens += [paper_token, live_token]
                live = await connect(api, live_token, label="main")
                assert (await checked(api, live_token, live["id"]))["validation_status"] == "valid"
                response = await api.client.post(
                    f"/api/admin/exchanges/{live['id']}/approve",
                    headers=api.auth(api.admin_token),
                )
                assert response.status_code == 200, response.text

                response = await api.client.post(
                    "/webhook",
                    json={"passphrase": PASSPHRASE, "symbol": "BTCUSDT", "action": "long"},
                    headers={"X-Request-ID": REQUEST_ID},
                )
                assert response.status_code == 202, response.text
                assert response.headers["x-request-id"] == REQUEST_ID
                signal_id = response.json()["signal_id"]
                report = await api.settled_report(signal_id)
                assert report["counts"] == {"filled": 2}, report

    in_process = parsed(here.getvalue(), "serving process")
    in_worker = parsed(worker_log.read_text(), "worker process")
    # The webhook's own line, and the worker's summary of the fan-out it ran for it.
    accepted = [line for line in in_process if line["signal_id"] == signal_id]
    assert accepted, here.getvalue()
    assert {line["request_id"] for line in accepted} == {REQUEST_ID}
    summaries = [line for line in in_worker if line["message"].startswith(f"signal {signal_id}")]
    assert summaries, worker_log.read_text()
    assert all(
        (line["signal_id"], line["request_id"]) == (signal_id, REQUEST_ID) for line in summaries
    )
    # Every line a request caused names its request; no line names a follower it is not about.
    assert all(line["account_id"] in (None, paper_account, live["id"]) for line in in_worker)

    everything = here.getvalue() + worker_log.read_text()
    secrets_used = [
        API_KEY,
        API_SECRET,
        PASSPHRASE,
        ADMIN_PASSWORD,
        FOLLOWER_PASSWORD,
        master_key,
        secret_key,
        *tokens,
    ]
    for secret in secrets_used:
        assert secret not in everything, f"a secret ({secret[:4]}...) reached the logs"
