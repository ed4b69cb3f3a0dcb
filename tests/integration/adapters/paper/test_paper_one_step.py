"""The paper venue's one-step paths a fan-out uses: a planning snapshot, and an order at a
leverage, on real SQLite and Postgres. Numbers as in test_paper_exchange.py (fee 0.04%)."""

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mimic.adapters.paper.faults import Fault, PaperFaults
from mimic.adapters.paper.gateway import PaperGateway
from mimic.adapters.paper.venue import PaperVenue
from mimic.adapters.sqlalchemy import tables
from mimic.domain.errors import AuthRejected, InsufficientMargin, OrderRejected, OutcomeUnknown
from mimic.domain.orders import OrderRequest, OrderSide
from mimic.ports.exchange import AccountSnapshot
from tests.integration.adapters.paper.test_paper_exchange import make_engine, make_venue

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(tables.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def venue(engine: AsyncEngine) -> PaperVenue:
    return make_venue(engine, PaperFaults())


@pytest.fixture
async def gateway(venue: PaperVenue) -> PaperGateway:
    await venue.open_account("alice")
    await venue.set_mark_price("BTCUSDT", D(65000))
    return PaperGateway(venue, "alice")


def order(side: OrderSide, quantity: str, *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest("BTCUSDT", side, D(quantity), f"t-{uuid.uuid4().hex[:12]}", reduce_only)


async def test_snapshot_answers_what_the_three_reads_answer(
    venue: PaperVenue, gateway: PaperGateway
) -> None:
    flat = await gateway.fetch_snapshot("BTCUSDT", with_balance=True)
    assert flat == AccountSnapshot(None, (await gateway.fetch_balance()).equity, D(65000))

    await gateway.place_market_order_at_leverage(order(BUY, "1"), 50)
    snapshot = await gateway.fetch_snapshot("BTCUSDT", with_balance=True)
    assert snapshot.position == await gateway.fetch_position("BTCUSDT")
    assert snapshot.equity == (await gateway.fetch_balance()).equity
    assert snapshot.mark_price == await gateway.fetch_mark_price("BTCUSDT")
    assert snapshot.position is not None
    assert snapshot.position.leverage == 50

    # The equity carries the unrealized PnL, rounded as the balance rounds it.
    await venue.set_mark_price("BTCUSDT", D("65012.345"))
    moved = await gateway.fetch_snapshot("BTCUSDT", with_balance=True)
    assert str(moved.equity) == str((await gateway.fetch_balance()).equity)
    assert moved.equity != snapshot.equity


async def test_an_order_at_a_leverage_sets_it_with_the_fill(gateway: PaperGateway) -> None:
    # 7 BTC = 455000 notional: at the default 20x that needs 22750 margin; at 50x 9100 + fee 182
    with pytest.raises(InsufficientMargin):
        await gateway.place_market_order(order(BUY, "7"))
    await gateway.place_market_order_at_leverage(order(BUY, "7"), 50)
    position = await gateway.fetch_position("BTCUSDT")
    assert position is not None
    assert (position.quantity, position.leverage) == (D(7), 50)
    # wallet 10000 - 182 = 9818; available 9818 - 9100 = 718
    assert (await gateway.fetch_balance()).available == D(718)

    # Closing at another leverage: the flat row remembers it, as a separate setting would.
    await gateway.place_market_order_at_leverage(order(SELL, "7", reduce_only=True), 10)
    await gateway.place_market_order(order(BUY, "1"))
    position = await gateway.fetch_position("BTCUSDT")
    assert position is not None
    assert position.leverage == 10


async def test_a_refused_order_at_a_leverage_changes_nothing(
    gateway: PaperGateway, venue: PaperVenue
) -> None:
    with pytest.raises(OrderRejected, match="leverage 126 is not valid for BTCUSDT"):
        await gateway.place_market_order_at_leverage(order(BUY, "0.01"), 126)
    with pytest.raises(InsufficientMargin):
        await gateway.place_market_order_at_leverage(order(BUY, "70"), 50)
    await gateway.place_market_order(order(BUY, "0.01"))
    position = await gateway.fetch_position("BTCUSDT")
    assert position is not None
    assert position.leverage == 20
    with pytest.raises(AuthRejected):
        await PaperGateway(venue, "bob").place_market_order_at_leverage(order(BUY, "0.01"), 5)


async def test_faults_apply_to_an_order_at_a_leverage(venue: PaperVenue) -> None:
    await venue.open_account("carol")
    gateway = PaperGateway(venue, "carol")
    venue.faults.add(Fault.TIMEOUT_BEFORE_EXECUTION)
    request = order(BUY, "0.01")
    with pytest.raises(OutcomeUnknown):
        await gateway.place_market_order_at_leverage(request, 5)
    assert await gateway.find_order("BTCUSDT", request.client_order_id) is None
    venue.faults.add(Fault.TIMEOUT_AFTER_EXECUTION)
    with pytest.raises(OutcomeUnknown):
        await gateway.place_market_order_at_leverage(request, 5)
    found = await gateway.find_order("BTCUSDT", request.client_order_id)
    assert found is not None
    assert found.quantity == D("0.01")
    position = await gateway.fetch_position("BTCUSDT")
    assert position is not None
    assert position.leverage == 5
