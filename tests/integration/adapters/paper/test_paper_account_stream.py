"""The paper venue's account streams on a real database: one poller per process."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from mimic.adapters.paper.account_stream import PaperAccountStream
from mimic.adapters.sqlalchemy import tables
from mimic.domain.account_events import StreamConnected
from mimic.domain.accounts import PAPER_EXCHANGE, ExchangeAccount
from tests.fakes.services import FixedClock
from tests.integration.adapters.paper.test_paper_exchange import make_engine


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(tables.metadata.create_all)
    yield engine
    await engine.dispose()


def pollers() -> int:
    return sum(
        1
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__name__", "") == "_poll_forever"
    )


async def test_streams_started_at_once_share_one_poller(engine: AsyncEngine) -> None:
    """A worker starts every account's stream together. Each started its own poller before
    (the check and the start were split by the read of the newest event), so 1,000 paper
    accounts polled the database 4,000 times a second and exhausted its pool."""
    stream = PaperAccountStream(async_sessionmaker(engine), FixedClock())
    now = datetime.now(UTC)
    streams = [
        stream.events(ExchangeAccount(f"acc-{i}", f"u{i}", PAPER_EXCHANGE, "paper", now))
        for i in range(50)
    ]
    try:
        first = await asyncio.gather(*(anext(s) for s in streams))
        assert all(isinstance(batch[0], StreamConnected) for batch in first)
        assert pollers() == 1
    finally:
        for s in streams:
            await s.aclose()
        await stream.aclose()
    assert pollers() == 0


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_an_outage_logs_one_traceback_not_one_per_poll(tmp_path: Path) -> None:
    """A database that cannot be opened fails every poll, as one that went away does. The
    handler sits on the adapter's logger: the app's logging setup replaces root handlers."""
    logger, caught = logging.getLogger("mimic.adapters.paper.account_stream"), Records()
    logger.addHandler(caught)
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/missing-folder/mimic.db")
    stream = PaperAccountStream(async_sessionmaker(engine), FixedClock(), poll_interval=0.01)
    stream._floor = 0  # started: the poller runs from here
    poller = asyncio.create_task(stream._poll_forever())
    try:
        await asyncio.sleep(0.3)
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        await engine.dispose()
        logger.removeHandler(caught)
    failures = [r for r in caught.records if r.getMessage() == "paper account events not read"]
    assert len(failures) > 3
    assert [bool(r.exc_info) for r in failures].count(True) == 1
