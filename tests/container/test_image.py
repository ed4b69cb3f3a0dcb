"""The image itself: built from the Dockerfile, each process of compose.yaml run from it as
a container against real Postgres and Redis, and a signal traded through them.

Not part of `make test` (building takes minutes and needs a container engine and a base
image): `make container-test`. The engine and its options come from the environment, e.g.
MIMIC_CONTAINER_ENGINE="podman --runtime runc", MIMIC_CONTAINER_RUN_OPTIONS="--ulimit
nofile=1024:1024", MIMIC_CONTAINER_BASE_IMAGE=localhost/mimic-base:bookworm.
"""

import asyncio
import os
import shlex
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.integration.harness import ADMIN_PASSWORD, PASSPHRASE, Api

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]
ENGINE = shlex.split(os.environ.get("MIMIC_CONTAINER_ENGINE", "podman"))
RUN_OPTIONS = shlex.split(os.environ.get("MIMIC_CONTAINER_RUN_OPTIONS", ""))
BASE_IMAGE = os.environ.get("MIMIC_CONTAINER_BASE_IMAGE", "python:3.11-slim-bookworm")
IMAGE = f"localhost/mimic-test:{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    build = [*ENGINE, "build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}"]
    subprocess.run([*build, "-t", IMAGE, str(ROOT)], check=True, timeout=1200)
    try:
        yield IMAGE
    finally:
        subprocess.run([*ENGINE, "rmi", "-f", IMAGE], check=False, timeout=120)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_options(env: dict[str, str]) -> list[str]:
    options = ["--rm", "--network", "host", *RUN_OPTIONS]
    for name, value in env.items():
        options += ["-e", f"{name}={value}"]
    return options


async def in_container(env: dict[str, str], *args: str) -> "subprocess.CompletedProcess[str]":
    """Runs one container to its end (as compose's one-shot services)."""
    command = [*ENGINE, "run", *run_options(env), *args]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=300
    )


@contextmanager
def container(image: str, command: str, env: dict[str, str], log: Path) -> Iterator[str]:
    name = f"mimic-test-{command}-{uuid.uuid4().hex[:8]}"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*ENGINE, "run", "--name", name, *run_options(env), image, command],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield name
    finally:
        # SIGTERM, as an orchestrator stops it; then the engine's own kill.
        subprocess.run([*ENGINE, "stop", "-t", "30", name], check=False, timeout=60)
        process.wait(timeout=60)


async def test_the_image_runs_migrate_serve_worker_and_scheduler(
    image: str, empty_postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    user = await in_container({}, "--entrypoint", "id", image, "-u")
    assert user.returncode == 0, user.stderr
    assert user.stdout.strip() not in ("", "0")

    port, metrics_port = free_port(), free_port()
    env = {
        "MIMIC_DATABASE_URL": empty_postgres_url,
        "MIMIC_REDIS_URL": redis_url,
        "MIMIC_QUEUE_NAME": f"mimic-container-{uuid.uuid4().hex[:8]}",
        "MIMIC_SECRET_KEY": "container-test-secret-" + "x" * 32,
        "MIMIC_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MIMIC_WEBHOOK_PASSPHRASE": PASSPHRASE,
        "MIMIC_MASTER_KEYS": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "MIMIC_PANIC_TOTP_SECRET": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        "MIMIC_LOG_FORMAT": "json",
        "MIMIC_HOST": "127.0.0.1",
        "MIMIC_PORT": str(port),
    }
    migrate = await in_container(env, image, "migrate")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert "Mimic is ready." in migrate.stdout

    logs = tmp_path
    with (
        container(image, "serve", env, logs / "serve.log"),
        container(image, "worker", {**env, "MIMIC_METRICS_PORT": str(metrics_port)},
                  logs / "worker.log"),
        container(image, "scheduler", env, logs / "scheduler.log"),
    ):  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if (await client.get("/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (logs / "serve.log").read_text()
                await asyncio.sleep(0.5)
            api = Api(client=client, admin_token="")  # type: ignore[arg-type]
            api.admin_token = await api.login("admin", ADMIN_PASSWORD)
            token, _ = await api.follower("carla")
            sent = await api.signal(symbol="BTCUSDT", action="long")
            report = await api.settled_report(sent["signal_id"], within=60)
            assert report["counts"] == {"filled": 1}, report
            positions = (await client.get("/api/positions", headers=api.auth(token))).json()
            assert [p["side"] for p in positions] == ["long"]
            metrics = await client.get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert 'mimic_orders_total{exchange="paper",outcome="filled"} 1.0' in metrics.text

    worker_log = (logs / "worker.log").read_text()
    assert "worker stopped" in worker_log  # it stopped cleanly on the engine's SIGTERM
    assert "Traceback" not in worker_log, worker_log
