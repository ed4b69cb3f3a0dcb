"""Issue 15, failure 1, in production mode: a burst of signals on one symbol parks behind
its first signal, which was acknowledged but never queued, instead of holding every worker
slot; another symbol's signal trades at once, the sweeper runs the lost one, and the burst
drains in order."""

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from mimic.adapters.sqlalchemy.signals import SqlSignalRepository
from mimic.adapters.sqlalchemy.tables import signal_sources
from mimic.domain.signal import Signal, SignalAction, SignalParams
from tests.integration.harness import make_settings, running_platform
from tests.integration.processes import production_env, running

BURST = 40
# The bound for an unrelated signal during a burst.
UNRELATED_TRADES_WITHIN_SECONDS = 5.0


async def test_a_burst_on_one_symbol_holds_no_worker_slot(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = production_env(postgres_url, redis_url, tmp_path, MIMIC_SWEEP_INTERVAL_SECONDS="1")
    settings = make_settings(postgres_url, redis_url=redis_url, queue_name=env["MIMIC_QUEUE_NAME"])
    async with running_platform(settings, embedded_worker=False) as api:
        await api.follower("alice")
        with running("worker", env, tmp_path / "worker.log"):
            warm = await api.signal(symbol="XRPUSDT", action="long", id="warm-up")
            await api.settled_report(warm["signal_id"])  # the worker is up and listening
            lost = await _store_without_queueing(postgres_url, "ETHUSDT", SignalAction.SHORT)
            burst = [
                await api.signal(
                    symbol="ETHUSDT", action="long" if n % 2 == 0 else "close", id=f"eth-{n}"
                )
                for n in range(BURST)
            ]
            started = time.monotonic()
            unrelated = await api.signal(symbol="BTCUSDT", action="long", id="btc")
            report = await api.settled_report(
                unrelated["signal_id"], within=UNRELATED_TRADES_WITHIN_SECONDS
            )
            assert [a["status"] for a in report["accounts"]] == ["filled"]
            print(f"unrelated signal filled {time.monotonic() - started:.2f} s into the burst")

            with running("scheduler", env, tmp_path / "scheduler.log"):  # the sweeper
                outcomes = [
                    (await api.settled_report(signal_id, within=60))["accounts"][0]
                    for signal_id in [lost, *(sent["signal_id"] for sent in burst)]
                ]
    # In order: the short, then its close-and-long flips and closes, each finding the
    # position the one before left.
    assert [o["status"] for o in outcomes] == ["filled"] * (BURST + 1), outcomes


async def _store_without_queueing(database_url: str, symbol: str, action: SignalAction) -> str:
    """As `serve` does when it is stopped between storing an alert and queueing it."""
    engine = create_async_engine(database_url)
    try:
        async with async_sessionmaker(engine)() as session:
            source_id = await session.scalar(select(signal_sources.c.id).limit(1))
            assert source_id is not None
            signal_id = uuid.uuid4().hex
            signal = Signal(
                id=signal_id,
                source_id=source_id,
                params=SignalParams(symbol=symbol, action=action),
                dedupe_key=f"id:{signal_id}",
                received_at=datetime.now(UTC),
            )
            await SqlSignalRepository(session).add_unless_duplicate(
                signal, expiring_after=signal.received_at
            )
            await session.commit()
        return signal_id
    finally:
        await engine.dispose()
