"""Mimic in production mode on this machine, for the fault suite: two `serve`, two workers
and one scheduler on a private `redis-server`, a fresh Postgres database and the Binance stub.

Every process is one the suite started, in a process group of its own; faults and clean-up
reach them by id only.
"""

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.integration.private_redis import PrivateRedis
from tests.integration.processes import start
from tests.integration.processes import stop as stop_process
from tests.stubs.smtp import free_port

START_SECONDS = 60.0  # five Python processes starting at once on two busy cores


async def poll(check: Callable[[], Awaitable[bool]], what: str, within: float) -> None:
    """Waits until `check` holds, polling; fails with `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out after {within:.0f} s waiting for {what}"
        await asyncio.sleep(0.05)


@dataclass
class Service:
    """One `mimic <command>` process."""

    name: str
    command: str
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    pids: list[int] = field(default_factory=list)  # one per start, the current one last

    @property
    def port(self) -> int | None:
        raw = self.env.get("MIMIC_PORT")
        return int(raw) if self.command == "serve" and raw else None

    def start(self) -> None:
        self.process = start(self.command, self.env, self.log)
        self.pids.append(self.process.pid)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def restart(self) -> None:
        """As a supervisor (systemd, Kubernetes) restarts a process that died."""
        assert self.process is not None
        assert self.process.poll() is not None, f"{self.name} is still running"
        self.start()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(
            self.log_text().splitlines()[-lines:]
        )

    async def wait_ready(self, client: httpx.AsyncClient) -> None:
        process = self.process
        assert process is not None
        if self.port is not None:
            url = f"http://127.0.0.1:{self.port}/health"

            async def answers() -> bool:
                assert process.poll() is None, self.tail()
                try:
                    return (await client.get(url, timeout=1)).status_code == 200
                except httpx.HTTPError:
                    return False

            await poll(answers, f"{self.name} to answer", START_SECONDS)
        elif self.command == "worker":
            started = len(self.pids)  # one "worker started" line per start, same log

            async def listening() -> bool:
                assert process.poll() is None, self.tail()
                return self.log_text().count("worker started") >= started

            await poll(listening, f"{self.name} to listen", START_SECONDS)


class Cluster:
    def __init__(self, env: dict[str, str], directory: Path, redis: PrivateRedis) -> None:
        self.redis = redis
        self.services: dict[str, Service] = {}
        for name, command in (
            ("serve1", "serve"),
            ("serve2", "serve"),
            ("worker1", "worker"),
            ("worker2", "worker"),
            ("scheduler", "scheduler"),
        ):
            own = dict(env)
            if command == "serve":
                own["MIMIC_PORT"] = str(free_port())
            self.services[name] = Service(name, command, own, directory / f"{name}.log")

    @property
    def webhook_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{s.port}/webhook" for s in self.services.values() if s.port]

    async def start(self, client: httpx.AsyncClient) -> None:
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            await service.wait_ready(client)

    def stop(self) -> None:
        """All told at once, then each waited for: a worker may take its grace to finish."""
        running = [s.process for s in self.services.values() if s.process and s.alive()]
        for process in running:
            process.terminate()
        for process in running:
            stop_process(process)

    def tails(self) -> str:
        return "\n".join(s.tail() for s in self.services.values())

    def pids(self) -> dict[str, int]:
        return {s.name: s.pids[-1] for s in self.services.values()}

    def needed_a_restart(self, before: dict[str, int], killed: str | None) -> list[str]:
        """Processes that are not the ones running at `before`, or not running at all; the
        one a fault killed was restarted by the test, once, as a supervisor would."""
        return [
            s.name
            for s in self.services.values()
            if not s.alive()
            or (s.name != killed and s.pids[-1] != before[s.name])
            or (s.name == killed and s.pids[-2:-1] != [before[s.name]])
        ]
