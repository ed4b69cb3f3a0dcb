"""The strategy lab from the web console: upload, a worker replays, the report and files."""

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mimic.adapters.sqlalchemy.engine import create_engine
from mimic.adapters.sqlalchemy.tables import lab_runs
from mimic.entrypoints.cli import main
from tests.integration.harness import Api, make_settings, running_platform
from tests.paths import XRP_CANDLES

ALERTS = [
    {"time": "2021-11-15T00:50:00Z", "symbol": "XRPUSDT", "action": "long", "sl_perc": 1},
    {"time": "2021-11-16T17:40:00Z", "symbol": "XRPUSDT", "action": "short", "tp_perc": 3},
    {"time": "2021-11-18T03:00:00Z", "symbol": "XRPUSDT", "action": "close"},
]
FOLLOWERS = [{"name": "alice", "equity": 1000, "settings": {"risk_perc": 5, "leverage": 10}}]


def upload(**changes: Any) -> dict[str, Any]:
    return {
        "candles": [{"name": XRP_CANDLES.name, "content": XRP_CANDLES.read_text()}],
        "alerts": {"name": "alerts.jsonl", "content": "\n".join(map(json.dumps, ALERTS))},
        "followers": FOLLOWERS,
        "fee_bps": "4",
        **changes,
    }


async def finished(api: Api, run_id: str, within: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        response = await api.client.get(
            f"/api/admin/lab/runs/{run_id}", headers=api.auth(api.admin_token)
        )
        assert response.status_code == 200, response.text
        if response.json()["status"] in ("done", "failed"):
            return dict(response.json())
        assert time.monotonic() < deadline, response.json()
        await asyncio.sleep(0.05)


async def test_an_uploaded_replay_runs_in_the_worker_and_matches_the_cli(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        admin = api.auth(api.admin_token)
        response = await api.client.post("/api/admin/lab/runs", json=upload(), headers=admin)
        assert response.status_code == 202, response.text
        run_id = response.json()["id"]
        run = await finished(api, run_id)
        assert run["status"] == "done", run
        assert [f["name"] for f in run["report"]["followers"]] == ["alice"]
        files = {}
        for name in ("report.json", "trades.csv", "equity.png", "equity.html"):
            response = await api.client.get(
                f"/api/admin/lab/runs/{run_id}/files/{name}", headers=admin
            )
            assert response.status_code == 200, name
            files[name] = response.content
        listed = await api.client.get("/api/admin/lab/runs", headers=admin)
        assert [r["id"] for r in listed.json()] == [run_id]
        again = await api.client.post(f"/api/admin/lab/runs/{run_id}/run", headers=admin)
        assert again.status_code == 409, again.text  # done: nothing to run again

    (tmp_path / "alerts.jsonl").write_text("\n".join(map(json.dumps, ALERTS)))
    (tmp_path / "followers.json").write_text(json.dumps(FOLLOWERS))
    args = [
        "--alerts",
        str(tmp_path / "alerts.jsonl"),
        "--followers",
        str(tmp_path / "followers.json"),
    ]
    with pytest.raises(SystemExit) as exit_code:
        main(["replay", "--candles", str(XRP_CANDLES), *args, "--out", str(tmp_path / "cli")])
    assert exit_code.value.code == 0
    for name, content in files.items():
        assert (tmp_path / "cli" / name).read_bytes() == content, name


async def test_a_bad_upload_is_refused_and_nothing_is_stored(sqlite_url: str) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        admin = api.auth(api.admin_token)
        bad = upload(followers=[{"name": "x", "equity": 10, "settings": {"leverage": 500}}])
        response = await api.client.post("/api/admin/lab/runs", json=bad, headers=admin)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "followers[0].settings.leverage"
        response = await api.client.post(
            "/api/admin/lab/runs", json=upload(alerts={"name": "a", "content": "{}"}), headers=admin
        )
        assert response.status_code == 422, response.text
        assert "line 1" in response.json()["detail"]
        follower = await api.register("bob")
        response = await api.client.post(
            "/api/admin/lab/runs", json=upload(), headers=api.auth(follower)
        )
        assert response.status_code == 403
        response = await api.client.get("/api/admin/lab/runs/nope", headers=admin)
        assert response.status_code == 404
    engine = create_engine(sqlite_url)
    async with engine.connect() as connection:
        assert (await connection.execute(select(func.count()).select_from(lab_runs))).scalar() == 0
    await engine.dispose()
