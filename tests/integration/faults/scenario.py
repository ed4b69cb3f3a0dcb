"""One round of the fault suite: a webhook burst, one fault injected and cleared under it,
then the invariants and the time from recovery to the first order placed."""

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.faults.burst import Burst
from tests.integration.faults.cluster import Cluster, poll
from tests.integration.faults.invariants import (
    client_ids_sent_twice,
    first_order_at,
    missing_signals,
    paper_client_ids_twice,
    wait_settled,
)
from tests.stubs.binance import BinanceStub


def _setting(name: str, default: int) -> int:
    return int(os.environ.get(f"MIMIC_FAULT_{name}", default))


# The default run is short (part of `make test`); docs/development.md shows a longer one.
ROUNDS = _setting("ROUNDS", 1)  # rounds of each fault
PAPER_FOLLOWERS = _setting("FOLLOWERS", 8)
STUB_FOLLOWERS = _setting("STUB_FOLLOWERS", 1)
INTERVAL = _setting("INTERVAL_MS", 150) / 1000  # between two alerts of the burst
LEAD = _setting("LEAD_ALERTS", 5)  # alerts sent before the fault
HOLD = _setting("HOLD_ALERTS", 15)  # alerts sent while the fault lasts
TRAIL = _setting("TRAIL_ALERTS", 10)  # alerts sent after recovery
SETTLE_SECONDS = _setting("SETTLE_SECONDS", 120)  # for every signal to settle after the burst
FIRST_ORDER_SECONDS = 60.0

RECOVERY_TIMES: list[str] = []  # printed at the end of the run (conftest)


@dataclass(frozen=True, slots=True)
class Recovery:
    at: datetime  # when the component was back
    killed: str | None = None  # the process the fault killed (and a supervisor restarted)


@dataclass
class Platform:
    cluster: Cluster
    stub: BinanceStub
    engine: AsyncEngine
    client: httpx.AsyncClient
    eligible: set[str]
    database: str
    burst: Burst | None = None

    async def hold(self) -> None:
        """The fault lasts while the burst sends the alerts it was allowed (HOLD more)."""
        burst = self.burst
        assert burst is not None

        async def sent() -> bool:
            return burst.exhausted

        await poll(sent, "the alerts sent during the fault", HOLD * INTERVAL + 30)


@dataclass(frozen=True, slots=True)
class Fault:
    name: str
    inject: Callable[[Platform], Awaitable[Recovery]]
    exchange: bool = False  # recovery is the exchange's: time the first order it executes


def now() -> datetime:
    return datetime.now(UTC)


async def run_round(platform: Platform, fault: Fault) -> float:
    """Returns the seconds from recovery to the first order placed."""
    cluster = platform.cluster
    pids = cluster.pids()
    started = now()  # the round's signals are those stored from now on
    burst = platform.burst = Burst(platform.client, cluster.webhook_urls, INTERVAL)

    async def lead_sent() -> bool:
        return burst.fired >= LEAD

    burst.allow(LEAD + HOLD)
    sending = asyncio.create_task(burst.send())
    try:
        await poll(lead_sent, "the burst to start", LEAD * INTERVAL + 30)
        recovery = await fault.inject(platform)
        burst.allow(TRAIL)  # alerts after recovery: the first order they make is timed
    finally:
        burst.close()
        await sending
    burst_ended = time.monotonic()
    context = f"{fault.name}: answers {burst.summary()}\n"

    first: datetime | None = None

    async def placed() -> bool:
        nonlocal first
        first = await first_order_at(
            platform.engine, platform.stub, recovery.at, stub_only=fault.exchange
        )
        return first is not None

    await poll(placed, f"{context}an order after recovery", FIRST_ORDER_SECONDS)
    assert first is not None
    seconds = (first - recovery.at).total_seconds()

    assert not await missing_signals(platform.engine, burst.acknowledged()), context
    assert burst.acknowledged(), context  # the burst reached the platform at all
    try:
        await wait_settled(platform.engine, platform.eligible, started, SETTLE_SECONDS)
    except AssertionError as exc:
        raise AssertionError(f"{context}{exc}\n{cluster.tails()}") from None
    settled_in = time.monotonic() - burst_ended
    assert client_ids_sent_twice(platform.stub) == {}, context
    assert await paper_client_ids_twice(platform.engine) == 0, context
    assert cluster.needed_a_restart(pids, recovery.killed) == [], context + cluster.tails()
    line = (
        f"{fault.name}: first order {seconds:.2f} s after recovery "
        f"(target < 10 s); alerts {burst.summary()}; all settled {settled_in:.1f} s "
        "after the last answer"
    )
    RECOVERY_TIMES.append(line)
    print(line)
    return seconds
