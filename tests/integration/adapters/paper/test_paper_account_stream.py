"""The paper venue's account streams on a real database: one poller per process."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from mimic.adapters.paper.account_stream import PaperAccountStream
from mimic.adapters.paper.gateway import PaperGateway
from mimic.adapters.sqlalchemy import tables
from mimic.domain.account_events import AccountEvent, FillEvent, OrderEvent, StreamConnected
from mimic.domain.accounts import PAPER_EXCHANGE, ExchangeAccount
from mimic.domain.orders import OrderSide
from mimic.domain.positions import PositionSide
from tests.fakes.services import FixedClock
from tests.integration.adapters.paper.test_paper_exchange import make_engine, make_venue, order

D = Decimal


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


async def events_until(
    events: AsyncIterator[Sequence[AccountEvent]], count: int
) -> list[AccountEvent]:
    found: list[AccountEvent] = []
    while len(found) < count:
        found += await asyncio.wait_for(anext(events), 2.0)  # the bound on paper
    return found


def told(events: Sequence[AccountEvent]) -> list[tuple[str | None, str]]:
    return sorted((e.client_order_id, e.status) for e in events if isinstance(e, OrderEvent))


async def test_protective_orders_placed_and_cancelled_are_events(engine: AsyncEngine) -> None:
    """Not only when they fire: a TP/SL placed, and one cancelled (by the owner, or because
    the position closed otherwise), is told on the account's stream."""
    venue = make_venue(engine)
    await venue.open_account("alice")
    gateway = PaperGateway(venue, "alice")
    stream = PaperAccountStream(async_sessionmaker(engine), FixedClock(), poll_interval=0.02)
    now = datetime.now(UTC)
    events = stream.events(ExchangeAccount("alice", "u1", PAPER_EXCHANGE, "paper", now))
    try:
        await anext(events)  # connected
        await gateway.place_market_order(order(OrderSide.BUY, "0.2"))
        await gateway.place_protective_orders(
            "BTCUSDT", PositionSide.LONG, D(60000), D(70000), "p1-"
        )
        [entry, *placed] = await events_until(events, 3)
        assert isinstance(entry, FillEvent)
        assert told(placed) == [("p1-sl", "placed"), ("p1-tp", "placed")]
        await gateway.cancel_protective_orders("BTCUSDT")
        cancelled = await events_until(events, 2)
        assert told(cancelled) == [("p1-sl", "cancelled"), ("p1-tp", "cancelled")]
        await gateway.place_protective_orders("BTCUSDT", PositionSide.LONG, D(60000), None, "p2-")
        await events_until(events, 1)
        await gateway.place_market_order(order(OrderSide.SELL, "0.2", reduce_only=True))
        close, left = await events_until(events, 2)  # the close, then what protected it
        assert isinstance(close, FillEvent)
        assert close.position_after == 0
        assert told([left]) == [("p2-sl", "cancelled")]
    finally:
        await events.aclose()  # type: ignore[attr-defined]
        await stream.aclose()
