"""The paper venue's account streams on a real database: one poller per process."""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from mimic.adapters.paper.account_stream import PaperAccountStream
from mimic.adapters.paper.gateway import PaperGateway
from mimic.adapters.paper.rows import Amounts
from mimic.adapters.sqlalchemy import tables
from mimic.adapters.sqlalchemy.tables.types import ExactDecimal
from mimic.domain.account_events import AccountEvent, FillEvent, OrderEvent, StreamConnected
from mimic.domain.accounts import PAPER_EXCHANGE, ExchangeAccount
from mimic.domain.orders import OrderSide
from mimic.domain.performance import AccountFill
from mimic.domain.positions import PositionSide
from mimic.ports.account_events import AccountEventSink
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


class Sink(AccountEventSink):
    """What each followed account was told, in order."""

    def __init__(self) -> None:
        self.told: dict[str, list[AccountEvent]] = defaultdict(list)
        self.arrived = asyncio.Event()

    def deliver(self, account_id: str, events: Sequence[AccountEvent]) -> None:
        self.told[account_id] += events
        self.arrived.set()

    def ended(self, account_id: str, error: Exception | None) -> None:
        raise AssertionError("a paper stream does not end by itself")

    async def until(self, account_id: str, count: int) -> list[AccountEvent]:
        """The account's first `count` events after those taken before."""
        async with asyncio.timeout(2.0):  # the bound on paper
            while len(self.told[account_id]) < count:
                self.arrived.clear()
                await self.arrived.wait()
        found, self.told[account_id] = (
            self.told[account_id][:count],
            self.told[account_id][count:],
        )
        return found


def paper_account(account_id: str) -> ExchangeAccount:
    return ExchangeAccount(account_id, "u1", PAPER_EXCHANGE, "paper", datetime.now(UTC))


async def test_streams_started_at_once_share_one_poller(engine: AsyncEngine) -> None:
    """A worker follows every account together. Each started its own poller before (the
    check and the start were split by the read of the newest event), so 1,000 paper
    accounts polled the database 4,000 times a second and exhausted its pool."""
    stream, sink = PaperAccountStream(async_sessionmaker(engine), FixedClock()), Sink()
    accounts = [paper_account(f"acc-{i}") for i in range(50)]
    try:
        await asyncio.gather(*(stream.follow(a, sink) for a in accounts))
        assert all(isinstance(sink.told[a.id][0], StreamConnected) for a in accounts)
        assert pollers() == 1
    finally:
        for a in accounts:
            await stream.unfollow(a.id, sink)
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


def told(events: Sequence[AccountEvent]) -> list[tuple[str | None, str]]:
    return sorted((e.client_order_id, e.status) for e in events if isinstance(e, OrderEvent))


async def test_protective_orders_placed_and_cancelled_are_events(engine: AsyncEngine) -> None:
    """Not only when they fire: a TP/SL placed, and one cancelled (by the owner, or because
    the position closed otherwise), is told on the account's stream."""
    venue = make_venue(engine)
    await venue.open_account("alice")
    gateway = PaperGateway(venue, "alice")
    stream = PaperAccountStream(async_sessionmaker(engine), FixedClock(), poll_interval=0.02)
    sink = Sink()
    await stream.follow(paper_account("alice"), sink)
    try:
        await sink.until("alice", 1)  # connected
        await gateway.place_market_order(order(OrderSide.BUY, "0.2"))
        await gateway.place_protective_orders(
            "BTCUSDT", PositionSide.LONG, D(60000), D(70000), "p1-"
        )
        [entry, *placed] = await sink.until("alice", 3)
        assert isinstance(entry, FillEvent)
        assert told(placed) == [("p1-sl", "placed"), ("p1-tp", "placed")]
        await gateway.cancel_protective_orders("BTCUSDT")
        cancelled = await sink.until("alice", 2)
        assert told(cancelled) == [("p1-sl", "cancelled"), ("p1-tp", "cancelled")]
        await gateway.place_protective_orders("BTCUSDT", PositionSide.LONG, D(60000), None, "p2-")
        await sink.until("alice", 1)
        await gateway.place_market_order(order(OrderSide.SELL, "0.2", reduce_only=True))
        close, left = await sink.until("alice", 2)  # the close, then what protected it
        assert isinstance(close, FillEvent)
        assert close.position_after == 0
        assert told([left]) == [("p2-sl", "cancelled")]
    finally:
        await stream.unfollow("alice", sink)
        await stream.aclose()
    assert not sink.told["alice"]  # nothing twice


async def test_a_missing_seq_is_read_when_it_commits_and_no_row_twice(
    engine: AsyncEngine,
) -> None:
    """Postgres numbers rows at insert: seq 2 commits after seq 3. Each poll reads what lies
    above the highest seq delivered and the missing ones below it, so seq 2 is delivered
    once it commits, rows already delivered are not read again, and another process's
    account costs nothing but its number."""
    venue = make_venue(engine)
    for name in ("alice", "bob", "carol"):
        await venue.open_account(name)
        await PaperGateway(venue, name).place_market_order(order(OrderSide.BUY, "0.2"))
    async with engine.begin() as connection:
        orders = {
            row.account_id: row.id
            for row in await connection.execute(
                select(tables.paper_orders.c.account_id, tables.paper_orders.c.id)
            )
        }
        await connection.execute(delete(tables.paper_account_events))
    stream = PaperAccountStream(async_sessionmaker(engine), FixedClock(), gap_grace=60)
    sink = Sink()
    await stream.follow(paper_account("alice"), sink)
    await stream.follow(paper_account("bob"), sink)
    await stream.aclose()  # polled by hand below
    floor = stream._floor
    assert floor is not None

    async def written(seq: int, account_id: str) -> None:
        async with engine.begin() as connection:
            await connection.execute(
                insert(tables.paper_account_events).values(
                    seq=seq,
                    account_id=account_id,
                    order_id=orders[account_id],
                    position_after=D("0.2"),
                    created_at=datetime.now(UTC),
                )
            )

    await written(floor + 1, "alice")
    await written(floor + 3, "bob")
    assert await stream.poll() == 2
    assert await stream.poll() == 0  # nothing new: none read again
    await written(floor + 2, "alice")
    assert await stream.poll() == 1
    assert await stream.poll() == 0
    await written(floor + 4, "carol")  # not followed here: only its number is kept
    assert await stream.poll() == 0
    assert [type(e) for e in sink.told["alice"]] == [StreamConnected, FillEvent, FillEvent]
    assert [type(e) for e in sink.told["bob"]] == [StreamConnected, FillEvent]
    assert stream._floor == floor + 4


def exactly(value: object) -> object:
    """A value as told, down to each Decimal's exponent (`1.5` is not `1.50`)."""
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    if isinstance(value, (FillEvent, OrderEvent, AccountFill)):
        return (type(value).__name__, *(exactly(getattr(value, f.name)) for f in fields(value)))
    return value


async def test_every_event_kind_decodes_exactly_as_the_books_hold_it(engine: AsyncEngine) -> None:
    """The stream decodes the rows its own way (raw columns, each distinct amount once): each
    fill must be the one the venue's REST view gives, to the Decimal's exponent, and each
    position the one the books hold. Opening, adding, reducing, flipping, a protective order
    placed, fired and cancelled, and whole amounts (100 stays 100, not 1E+2)."""
    venue = make_venue(engine)
    await venue.set_mark_price("BTCUSDT", D(50000))
    for name in ("alice", "bob"):
        await venue.open_account(name)
    alice, bob = PaperGateway(venue, "alice"), PaperGateway(venue, "bob")
    stream = PaperAccountStream(async_sessionmaker(engine), FixedClock(), poll_interval=0.02)
    sink = Sink()
    await stream.follow(paper_account("alice"), sink)
    await stream.follow(paper_account("bob"), sink)
    positions: list[Decimal] = []
    try:
        await sink.until("alice", 1)
        await sink.until("bob", 1)
        steps = [
            (OrderSide.BUY, "0.2", False),
            (OrderSide.BUY, "0.05", False),
            (OrderSide.SELL, "0.125", True),
            (OrderSide.SELL, "0.5", False),  # flips long 0.125 to short 0.375
        ]
        for side, quantity, reduce_only in steps:
            await alice.place_market_order(order(side, quantity, reduce_only=reduce_only))
            await bob.place_market_order(order(side, quantity, reduce_only=reduce_only))
            [held] = await venue.positions("alice")
            positions.append(held.quantity if held.side is PositionSide.LONG else -held.quantity)
            await venue.set_mark_price("BTCUSDT", D(50000) + 100 * len(positions))
        await alice.place_protective_orders("BTCUSDT", PositionSide.SHORT, D(51000), None, "p-")
        await venue.set_mark_price("BTCUSDT", D(51000))  # fires: closes alice's short
        await bob.place_protective_orders("BTCUSDT", PositionSide.SHORT, D(60000), None, "q-")
        await bob.cancel_protective_orders("BTCUSDT")
        told_alice = await sink.until("alice", 6)
        told_bob = await sink.until("bob", 6)
    finally:
        for name in ("alice", "bob"):
            await stream.unfollow(name, sink)
        await stream.aclose()
    since = datetime(2000, 1, 1, tzinfo=UTC)
    for name, events in (("alice", told_alice), ("bob", told_bob)):
        fills = [e for e in events if isinstance(e, FillEvent)]
        books = await venue.fills(name, since)
        assert [exactly(e.fill) for e in fills] == [exactly(f) for f in books]
        for event in fills:
            assert exactly(event.order_quantity) == exactly(event.fill.quantity)
            assert exactly(event.order_average_price) == exactly(event.fill.price)
            assert event.order_id == event.fill.order_id == event.fill.fill_id
            assert event.client_order_id == event.fill.client_order_id
    assert [exactly(e.position_after) for e in told_alice if isinstance(e, FillEvent)] == [
        exactly(p) for p in [*positions, D(0)]
    ]
    assert [exactly(p) for p in positions] == [
        exactly(D(s)) for s in ("0.2", "0.25", "0.125", "-0.375")
    ]
    assert told(told_alice) == [("p-sl", "placed")]
    assert told(told_bob) == [("q-sl", "cancelled"), ("q-sl", "placed")]
    assert [e.status for e in told_bob[-2:]] == ["placed", "cancelled"]  # in their order


def test_amounts_decode_each_value_as_the_column_type_does() -> None:
    """Equal amounts share a decoding, except zeros: -0 equals 0 but keeps its sign."""
    amount = Amounts()
    raws = [D("1.500"), D("1.5"), D("100.000"), "100", D("0E-18"), D("-0"), "-0", "0.0", "1e2"]
    for raw in raws * 2:
        assert exactly(amount(raw)) == exactly(ExactDecimal().process_result_value(raw, None))  # type: ignore[arg-type]
