"""The embedded mode (SQLite, in-process worker) stopped in the middle of a fan-out: within a
bounded time, with every transaction ended and every connection closed (a connection left
open kept its thread, which held the process at exit, and could keep SQLite's write lock
from whatever used the file next); the signal it acknowledged is finished at the next start.
"""

import asyncio
import sqlite3
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from mimic.adapters.sqlalchemy.engine import create_engine
from mimic.entrypoints.http import app as app_module
from tests.integration.harness import make_settings, running_platform
from tests.integration.processes import seed_followers

FOLLOWERS = 3000
# The fan-out's grace, cut short so the stop lands in the middle of it.
GRACE_SECONDS = 0.2
STOPPED_WITHIN_SECONDS = 15.0


def _connection_threads() -> set[threading.Thread]:
    """aiosqlite's: one per open connection."""
    return {t for t in threading.enumerate() if "_connection_worker_thread" in t.name}


def _count(database: Path, query: str) -> int:
    with sqlite3.connect(database, timeout=30) as connection:
        return int(connection.execute(query).fetchone()[0])


async def test_a_stop_mid_fanout_leaves_no_transaction_or_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "SHUTDOWN_GRACE_SECONDS", GRACE_SECONDS)
    database = tmp_path / "mimic.db"
    url = f"sqlite+aiosqlite:///{database}"
    settings = make_settings(
        url, max_signal_age=timedelta(minutes=30), sweep_interval=timedelta(seconds=1)
    )
    threads_before = _connection_threads()
    async with running_platform(settings, embedded_worker=True) as api:
        engine = create_engine(url)
        await seed_followers(engine, FOLLOWERS, Decimal(10000))
        await engine.dispose()
        await api.set_price("XRPUSDT", "0.6")
        signal = await api.signal(symbol="XRPUSDT", action="long")
        while True:  # until the first paper batch has committed
            if _count(database, "SELECT count(*) FROM paper_orders"):
                break
            await asyncio.sleep(0.01)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < STOPPED_WITHIN_SECONDS
    assert _count(database, "SELECT count(*) FROM paper_orders") < FOLLOWERS, "not mid-fan-out"

    assert _connection_threads() <= threads_before
    writer = sqlite3.connect(database, timeout=1)
    try:
        writer.execute("BEGIN IMMEDIATE")  # "database is locked" if a write was left open
        writer.rollback()
    finally:
        writer.close()

    async with running_platform(settings, embedded_worker=True) as api:
        report = await api.settled_report(signal["signal_id"], within=120)
    assert report["counts"] == {"filled": FOLLOWERS}
    assert _count(database, "SELECT count(*) FROM paper_orders") == FOLLOWERS
