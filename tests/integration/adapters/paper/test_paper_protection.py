"""The paper exchange's stop-loss / take-profit orders: in the database, fired by price moves.

Fees are the default taker rate, 0.04%; numbers worked out by hand next to them.
"""

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from mimic.adapters.paper.gateway import PaperGateway
from mimic.adapters.paper.protection import ProtectiveStatus
from mimic.adapters.paper.venue import PaperVenue
from mimic.adapters.price_feeds import ReplayPriceFeed, candle_prices
from mimic.adapters.sqlalchemy import tables
from mimic.domain.errors import DuplicateClientOrderId, OrderRejected
from mimic.domain.orders import OrderSide
from mimic.domain.positions import PositionSide
from tests.integration.adapters.paper.test_paper_exchange import engine, make_venue, order
from tests.paths import XRP_CANDLES

D = Decimal
__all__ = ["engine"]  # the fixture, shared with the paper exchange's tests
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT


@pytest.fixture
async def venue(engine: AsyncEngine) -> PaperVenue:
    venue = make_venue(engine)
    await venue.open_account("alice")
    return venue


@pytest.fixture
def gateway(venue: PaperVenue) -> PaperGateway:
    return PaperGateway(venue, "alice")


async def statuses(venue: PaperVenue, symbol: str = "BTCUSDT") -> dict[str, str]:
    orders = await venue.protective_orders("alice", symbol, only_open=False)
    return {o.kind: o.status.value for o in orders}


async def test_stop_loss_fires_at_the_mark_and_cancels_the_take_profit(
    engine: AsyncEngine, venue: PaperVenue, gateway: PaperGateway
) -> None:
    await gateway.place_market_order(order(OrderSide.BUY, "0.1"))  # long 0.1 at 65000
    placed = await gateway.place_protective_orders("BTCUSDT", LONG, D(64000), D(67000), "p1-")
    assert len(placed) == 2
    # another process on the same database sees them
    other = make_venue(engine)
    assert {o.client_order_id for o in await other.protective_orders("alice", "BTCUSDT")} == {
        "p1-sl",
        "p1-tp",
    }
    await venue.set_mark_price("BTCUSDT", D(64500))  # between the two: nothing fires
    assert await statuses(venue) == {"sl": "open", "tp": "open"}
    balance_before = (await gateway.fetch_balance()).wallet_balance

    await other.set_mark_price("BTCUSDT", D(63900))  # through the stop

    assert await gateway.fetch_position("BTCUSDT") is None
    assert await statuses(venue) == {"sl": "triggered", "tp": "cancelled"}
    fill = await gateway.find_order("BTCUSDT", "p1-sl")
    assert fill is not None
    assert (fill.side, fill.quantity, fill.average_price) == (OrderSide.SELL, D("0.1"), D(63900))
    assert fill.reduce_only
    assert fill.fee == D("2.556")  # 0.1 x 63900 x 0.0004
    # realized (63900 - 65000) x 0.1 = -110, minus the fee
    balance = await gateway.fetch_balance()
    assert balance.wallet_balance == balance_before - D(110) - D("2.556")
    await venue.set_mark_price("BTCUSDT", D(63000))  # nothing is left to fire
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(tables.paper_orders).where(tables.paper_orders.c.client_order_id == "p1-sl")
        )
        assert len(list(rows)) == 1


async def test_take_profit_of_a_short_fires_below(venue: PaperVenue, gateway: PaperGateway) -> None:
    await gateway.place_market_order(order(OrderSide.SELL, "0.1"))  # short 0.1 at 65000
    await gateway.place_protective_orders("BTCUSDT", SHORT, D(70000), D(60000), "p2-")
    await venue.set_mark_price("BTCUSDT", D(60001))
    assert await statuses(venue) == {"sl": "open", "tp": "open"}
    await venue.set_mark_price("BTCUSDT", D(59000))
    assert await statuses(venue) == {"sl": "cancelled", "tp": "triggered"}
    fill = await gateway.find_order("BTCUSDT", "p2-tp")
    assert fill is not None
    assert (fill.side, fill.average_price) == (OrderSide.BUY, D(59000))
    assert await gateway.fetch_position("BTCUSDT") is None


async def test_a_close_by_anything_else_cancels_both_legs(
    venue: PaperVenue, gateway: PaperGateway
) -> None:
    await gateway.place_market_order(order(OrderSide.BUY, "0.2"))
    await gateway.place_protective_orders("BTCUSDT", LONG, D(60000), D(70000), "p3-")
    await gateway.place_market_order(order(OrderSide.SELL, "0.1", reduce_only=True))
    assert await statuses(venue) == {"sl": "open", "tp": "open"}  # still half a position
    await gateway.place_market_order(order(OrderSide.SELL, "0.1", reduce_only=True))
    assert await statuses(venue) == {"sl": "cancelled", "tp": "cancelled"}
    await venue.set_mark_price("BTCUSDT", D(59000))
    assert await gateway.fetch_position("BTCUSDT") is None  # nothing reopened or fired


async def test_cancel_is_idempotent_and_frees_the_client_ids(
    venue: PaperVenue, gateway: PaperGateway
) -> None:
    await gateway.place_market_order(order(OrderSide.BUY, "0.1"))
    await gateway.place_protective_orders("BTCUSDT", LONG, D(60000), None, "p4-")
    with pytest.raises(DuplicateClientOrderId):
        await gateway.place_protective_orders("BTCUSDT", LONG, D(61000), None, "p4-")
    await gateway.cancel_protective_orders("BTCUSDT")
    await gateway.cancel_protective_orders("BTCUSDT")
    assert await statuses(venue) == {"sl": "cancelled"}
    await gateway.place_protective_orders("BTCUSDT", LONG, D(61000), None, "p4-")
    assert [o.trigger_price for o in await venue.protective_orders("alice", "BTCUSDT")] == [
        D(61000)
    ]


async def test_triggers_are_checked_like_binance(gateway: PaperGateway) -> None:
    with pytest.raises(OrderRejected, match="no open long BTCUSDT position"):
        await gateway.place_protective_orders("BTCUSDT", LONG, D(60000), None, "p5-")
    await gateway.place_market_order(order(OrderSide.BUY, "0.1"))
    with pytest.raises(OrderRejected, match="would trigger immediately"):
        await gateway.place_protective_orders("BTCUSDT", LONG, D(66000), None, "p5-")
    with pytest.raises(OrderRejected, match="would trigger immediately"):
        await gateway.place_protective_orders("BTCUSDT", LONG, None, D(64000), "p5-")
    with pytest.raises(OrderRejected, match="client order id prefix"):
        await gateway.place_protective_orders("BTCUSDT", LONG, D(60000), None, "x" * 35)
    # prices are rounded to the tick size (0.1)
    await gateway.place_protective_orders("BTCUSDT", LONG, D("60000.04"), None, "p5-")


async def test_two_processes_moving_the_price_fire_a_stop_once(
    engine: AsyncEngine, venue: PaperVenue, gateway: PaperGateway
) -> None:
    await gateway.place_market_order(order(OrderSide.BUY, "0.1"))
    await gateway.place_protective_orders("BTCUSDT", LONG, D(64000), None, "p6-")
    others = [make_venue(engine) for _ in range(3)]
    await asyncio.gather(*(v.set_mark_price("BTCUSDT", D(63000)) for v in [venue, *others]))
    assert await statuses(venue) == {"sl": ProtectiveStatus.TRIGGERED.value}
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(tables.paper_orders).where(tables.paper_orders.c.account_id == "alice")
        )
        assert [r.client_order_id for r in rows if r.reduce_only] == ["p6-sl"]


async def test_replayed_candles_fire_a_take_profit_where_the_recording_crosses_it(
    venue: PaperVenue, gateway: PaperGateway
) -> None:
    """The replay feed moves the paper price as XRP moved on 2021-11-15."""
    prices = list(candle_prices(XRP_CANDLES))
    replay = ReplayPriceFeed.from_csv("XRPUSDT", XRP_CANDLES, board=venue)
    first = await replay.advance()
    assert first == prices[0]
    await gateway.place_market_order(order(OrderSide.BUY, "42", "XRPUSDT"))
    await gateway.place_protective_orders("XRPUSDT", LONG, D("1.1500"), D("1.2050"), "xrp-")
    expected = next(p for p in prices[1:] if p >= D("1.2050"))
    steps = 1
    while await gateway.fetch_position("XRPUSDT") is not None:
        assert await replay.advance() is not None, "the recording ended first"
        steps += 1
    assert await replay.latest({"XRPUSDT"}) == {"XRPUSDT": prices[steps - 1]}
    fill = await gateway.find_order("XRPUSDT", "xrp-tp")
    assert fill is not None
    assert fill.average_price == expected == prices[steps - 1]
    assert await statuses(venue, "XRPUSDT") == {"sl": "cancelled", "tp": "triggered"}
