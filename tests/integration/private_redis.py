"""A `redis-server` of a test's own on a free port, to kill, empty, pause and restart: the
shared Redis is never touched by a fault test."""

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from tests.integration.harness import Api, make_settings, running_platform
from tests.integration.processes import production_env, running
from tests.stubs.smtp import free_port

START_DEADLINE_SECONDS = 10.0


class PrivateRedis:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Starts it empty: no snapshot, no append-only file, as a failover to an empty
        replica or a restart without persistence leaves it."""
        self._process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            process_group=0,  # a signal meant for the test never reaches it
        )
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while not self._answers():
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)  # a paused one would not die
            self._process.kill()
            self._process.wait()
        self._process = None

    def restart_empty(self) -> None:
        self.kill()
        self.start()

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers, as with a hung server."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)


@contextmanager
def private_redis(directory: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    server = PrivateRedis(directory)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@asynccontextmanager
async def platform_on_private_redis(
    postgres_url: str, directory: Path
) -> AsyncIterator[tuple[Api, PrivateRedis]]:
    """Production mode on a private Redis: the HTTP app in this process, a worker and the
    scheduler (sweeping every second) as processes, and one paper follower, alice."""
    with private_redis(directory) as redis:
        env = production_env(postgres_url, redis.url, directory, MIMIC_SWEEP_INTERVAL_SECONDS="1")
        settings = make_settings(
            postgres_url,
            redis_url=redis.url,
            queue_name=env["MIMIC_QUEUE_NAME"],
            sweep_interval=timedelta(seconds=1),
        )
        async with running_platform(settings, embedded_worker=False) as api:
            await api.follower("alice")
            with (
                running("worker", env, directory / "worker.log"),
                running("scheduler", env, directory / "scheduler.log"),
            ):
                yield api, redis
