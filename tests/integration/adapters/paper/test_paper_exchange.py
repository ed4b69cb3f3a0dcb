"""The paper exchange against real SQLite and Postgres, with real Binance rules.

Fees are the default taker rate, 0.04%; leverage is Binance's default 20 unless set.
Every expected number is worked out by hand in the comments next to it.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from mimic.adapters.paper.faults import Fault, PaperFaults
from mimic.adapters.paper.gateway import PaperGateway, PaperGateways
from mimic.adapters.paper.rules import DEFAULT_MARK_PRICES, paper_listings
from mimic.adapters.paper.venue import PaperVenue
from mimic.adapters.sqlalchemy import tables
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import (
    AuthRejected,
    BelowMinNotional,
    ExchangeUnavailable,
    InsufficientMargin,
    InvalidPrecision,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    ReduceOnlyRejected,
    UnknownSymbol,
)
from mimic.domain.orders import OrderRequest, OrderSide
from mimic.domain.positions import PositionSide

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


class TickingClock:
    """Each reading is one millisecond later, so "most recent" is well defined."""

    def __init__(self) -> None:
        self._now = datetime(2024, 5, 1, tzinfo=UTC)

    def now(self) -> datetime:
        self._now += timedelta(milliseconds=1)
        return self._now


def make_engine(url: str) -> AsyncEngine:
    # A second writer on SQLite waits for the lock (as the app's engine does) instead of failing.
    connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
    return create_async_engine(url, connect_args=connect_args)


def make_venue(engine: AsyncEngine, faults: PaperFaults | None = None) -> PaperVenue:
    return PaperVenue(
        async_sessionmaker(engine, expire_on_commit=False), TickingClock(), faults=faults
    )


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(tables.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def venue(engine: AsyncEngine) -> PaperVenue:
    return make_venue(engine)


@pytest.fixture
async def gateway(venue: PaperVenue) -> PaperGateway:
    await venue.open_account("alice")
    return PaperGateway(venue, "alice")


def order(
    side: OrderSide,
    quantity: str,
    symbol: str = "BTCUSDT",
    *,
    reduce_only: bool = False,
    client_order_id: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=side,
        quantity=D(quantity),
        client_order_id=client_order_id or f"test-{uuid.uuid4().hex[:12]}",
        reduce_only=reduce_only,
    )


async def order_rows(engine: AsyncEngine, account_id: str) -> list[Row[Any]]:
    async with engine.connect() as connection:
        query = select(tables.paper_orders).where(tables.paper_orders.c.account_id == account_id)
        return list(await connection.execute(query))


# Listing and price board


async def test_rules_come_from_the_bundled_exchange_info(venue: PaperVenue) -> None:
    btc = await venue.market_rules("BTCUSDT")
    # MARKET_LOT_SIZE (max 120), not LOT_SIZE (max 1000): these are market orders.
    assert (btc.step_size, btc.min_qty, btc.max_qty) == (D("0.001"), D("0.001"), D(120))
    assert (btc.tick_size, btc.min_notional, btc.max_leverage) == (D("0.1"), D(5), 125)
    ada = await venue.market_rules("ADAUSDT")
    assert (ada.step_size, ada.max_qty, ada.tick_size) == (D(1), D(300000), D("0.0001"))
    assert await venue.is_tradable("DOGEUSDT")
    assert not await venue.is_tradable("FOOUSDT")
    with pytest.raises(UnknownSymbol, match="FOOUSDT is not listed"):
        await venue.market_rules("FOOUSDT")


async def test_default_prices_are_valid_for_every_listing(venue: PaperVenue) -> None:
    listings = paper_listings()
    assert set(listings) == set(DEFAULT_MARK_PRICES) == set(await venue.mark_prices())
    for symbol, listing in listings.items():
        assert listing.accepts_price(listing.default_mark_price), symbol
        assert listing.default_mark_price % listing.rules.tick_size == 0, symbol


async def test_price_board_is_set_per_symbol(venue: PaperVenue) -> None:
    assert await venue.mark_price("BTCUSDT") == D(65000)
    await venue.set_mark_price("BTCUSDT", D("61234.5"))
    await venue.set_mark_price("BTCUSDT", D("62000"))  # a second set overwrites
    prices = await venue.mark_prices()
    assert prices["BTCUSDT"] == D(62000)
    assert prices["ETHUSDT"] == D(3500)
    with pytest.raises(OrderRejected, match=r"outside the allowed range 556\.8 to 4529764"):
        await venue.set_mark_price("BTCUSDT", D(100))
    with pytest.raises(UnknownSymbol):
        await venue.set_mark_price("FOOUSDT", D(1))


# Accounts


async def test_open_account_gives_the_starting_balance_once(venue: PaperVenue) -> None:
    await venue.open_account("alice")
    balance = await venue.balance("alice")
    assert balance.currency == "USDT"
    assert (balance.wallet_balance, balance.unrealized_pnl, balance.available) == (
        D(10000),
        D(0),
        D(10000),
    )
    await venue.set_mark_price("BTCUSDT", D(60000))
    await venue.place_market_order("alice", order(BUY, "0.1"))
    await venue.open_account("alice")  # idempotent: does not reset the wallet
    assert (await venue.balance("alice")).wallet_balance == D("9997.6")
    with pytest.raises(AuthRejected, match="paper account bob is not open"):
        await venue.balance("bob")
    with pytest.raises(AuthRejected):
        await venue.place_market_order("bob", order(BUY, "0.1"))


# Sizing and precision


@pytest.mark.parametrize(
    ("request_", "error", "message"),
    [
        (order(BUY, "0.1", "FOOUSDT"), UnknownSymbol, "FOOUSDT is not listed"),
        (
            order(BUY, "0.0015"),
            InvalidPrecision,
            "quantity 0.0015 is not a multiple of step size 0.001",
        ),
        (order(BUY, "10.5", "ADAUSDT"), InvalidPrecision, "multiple of step size 1"),
        (order(BUY, "0"), OrderRejected, "quantity must be positive"),
        (order(SELL, "-1"), OrderRejected, "quantity must be positive"),
        (order(BUY, "121"), OrderRejected, "above the maximum 120 BTCUSDT"),
        (order(BUY, "0.05", "XRPUSDT"), InvalidPrecision, "step size 0.1"),
        # 30 DOGE x 0.15 = 4.5 USDT < 5
        (order(BUY, "30", "DOGEUSDT"), BelowMinNotional, "4.50 USDT is below the minimum 5"),
        (
            order(BUY, "0.1", client_order_id="has spaces"),
            OrderRejected,
            "must be 1 to 36 characters",
        ),
    ],
)
async def test_orders_outside_the_rules_are_rejected_and_change_nothing(
    gateway: PaperGateway,
    request_: OrderRequest,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        await gateway.place_market_order(request_)
    assert await gateway.fetch_positions() == []
    assert (await gateway.fetch_balance()).wallet_balance == D(10000)


async def test_min_notional_uses_the_mark_price(gateway: PaperGateway, venue: PaperVenue) -> None:
    await venue.set_mark_price("DOGEUSDT", D("0.17"))
    fill = await gateway.place_market_order(order(BUY, "30", "DOGEUSDT"))  # 30 x 0.17 = 5.1
    assert (fill.quantity, fill.average_price) == (D(30), D("0.17"))


# Trading


async def test_open_add_and_partially_close_a_long(
    gateway: PaperGateway, venue: PaperVenue, engine: AsyncEngine
) -> None:
    await venue.set_mark_price("BTCUSDT", D(60000))
    fill = await gateway.place_market_order(order(BUY, "0.1", client_order_id="open"))
    # fee 0.1 x 60000 x 0.0004 = 2.4; wallet 10000 - 2.4 = 9997.6
    assert (fill.side, fill.quantity, fill.average_price, fill.fee) == (
        BUY,
        D("0.1"),
        D(60000),
        D("2.4"),
    )
    assert fill.client_order_id == "open"
    assert (await gateway.fetch_balance()).wallet_balance == D("9997.6")

    await venue.set_mark_price("BTCUSDT", D(62000))
    await gateway.place_market_order(order(BUY, "0.1"))
    # fee 0.1 x 62000 x 0.0004 = 2.48; wallet 9995.12; entry (6000 + 6200) / 0.2 = 61000
    position = await gateway.fetch_position("BTCUSDT")
    assert position is not None
    assert (position.side, position.quantity, position.entry_price) == (
        PositionSide.LONG,
        D("0.2"),
        D(61000),
    )
    assert (position.leverage, position.mark_price, position.unrealized_pnl) == (
        20,
        D(62000),
        D(200),
    )
    balance = await gateway.fetch_balance()
    # unrealized (62000 - 61000) x 0.2 = 200; initial margin 0.2 x 61000 / 20 = 610;
    # available 9995.12 + 200 - 610 = 9585.12
    assert (balance.wallet_balance, balance.unrealized_pnl, balance.available) == (
        D("9995.12"),
        D(200),
        D("9585.12"),
    )
    assert balance.equity == D("10195.12")

    await venue.set_mark_price("BTCUSDT", D(63000))
    close = await gateway.place_market_order(order(SELL, "0.05"))
    # realized (63000 - 61000) x 0.05 = 100; fee 0.05 x 63000 x 0.0004 = 1.26;
    # wallet 9995.12 + 100 - 1.26 = 10093.86; the rest keeps its entry price
    assert (close.quantity, close.average_price, close.fee) == (D("0.05"), D(63000), D("1.26"))
    position = await gateway.fetch_position("BTCUSDT")
    assert position is not None
    assert (position.quantity, position.entry_price) == (D("0.15"), D(61000))
    balance = await gateway.fetch_balance()
    # unrealized 2000 x 0.15 = 300; margin 0.15 x 61000 / 20 = 457.5;
    # available 10093.86 + 300 - 457.5 = 9936.36
    assert (balance.wallet_balance, balance.unrealized_pnl, balance.available) == (
        D("10093.86"),
        D(300),
        D("9936.36"),
    )
    rows = await order_rows(engine, "alice")
    assert sorted((r.side, r.quantity, r.price, r.fee, r.realized_pnl) for r in rows) == [
        ("buy", D("0.1"), D(60000), D("2.4"), D(0)),
        ("buy", D("0.1"), D(62000), D("2.48"), D(0)),
        ("sell", D("0.05"), D(63000), D("1.26"), D(100)),
    ]


async def test_average_entry_is_kept_to_eight_decimals(
    gateway: PaperGateway, venue: PaperVenue
) -> None:
    await gateway.place_market_order(order(BUY, "0.001"))  # at 65000
    await venue.set_mark_price("BTCUSDT", D("65000.1"))
    await gateway.place_market_order(order(BUY, "0.002"))
    # (65 + 130.0002) / 0.003 = 65000.0666666...: the same on SQLite and Postgres
    position = await gateway.fetch_position("BTCUSDT")
    assert position is not None
    assert position.entry_price == D("65000.06666667")


async def test_short_flips_through_zero_to_long_and_back_to_flat(
    gateway: PaperGateway, venue: PaperVenue, engine: AsyncEngine
) -> None:
    await venue.set_mark_price("BTCUSDT", D(60000))
    await gateway.place_market_order(order(SELL, "0.1"))
    # fee 2.4; wallet 9997.6; short 0.1 at 60000
    position = await gateway.fetch_position("BTCUSDT")
    assert position is not None
    assert (position.side, position.quantity, position.entry_price) == (
        PositionSide.SHORT,
        D("0.1"),
        D(60000),
    )

    await venue.set_mark_price("BTCUSDT", D(59000))
    flip = await gateway.place_market_order(order(BUY, "0.3"))
    # closes 0.1 short: realized (59000 - 60000) x 0.1 x -1 = +100;
    # fee on the whole 0.3 x 59000 x 0.0004 = 7.08; wallet 9997.6 + 100 - 7.08 = 10090.52;
    # the remaining 0.2 opens a long at the fill price
    assert (flip.quantity, flip.fee) == (D("0.3"), D("7.08"))
    position = await gateway.fetch_position("BTCUSDT")
    assert position is not None
    assert (position.side, position.quantity, position.entry_price) == (
        PositionSide.LONG,
        D("0.2"),
        D(59000),
    )
    assert (await gateway.fetch_balance()).wallet_balance == D("10090.52")

    await gateway.place_market_order(order(SELL, "0.2"))
    # realized 0; fee 0.2 x 59000 x 0.0004 = 4.72; wallet 10085.8
    assert await gateway.fetch_position("BTCUSDT") is None
    assert await gateway.fetch_positions() == []
    balance = await gateway.fetch_balance()
    assert (balance.wallet_balance, balance.available) == (D("10085.8"), D("10085.8"))
    realized = sorted(r.realized_pnl for r in await order_rows(engine, "alice"))
    assert realized == [D(0), D(0), D(100)]


async def test_reduce_only_orders(gateway: PaperGateway, venue: PaperVenue) -> None:
    with pytest.raises(ReduceOnlyRejected, match="there is no open BTCUSDT position"):
        await gateway.place_market_order(order(SELL, "0.1", reduce_only=True))

    await gateway.place_market_order(order(BUY, "0.1"))  # fee 0.1 x 65000 x 0.0004 = 2.6
    with pytest.raises(ReduceOnlyRejected, match="a buy would increase the long BTCUSDT"):
        await gateway.place_market_order(order(BUY, "0.05", reduce_only=True))

    # Larger than the position: capped to it, so it closes and never opens a short.
    fill = await gateway.place_market_order(order(SELL, "0.5", reduce_only=True))
    assert (fill.quantity, fill.fee, fill.reduce_only) == (D("0.1"), D("2.6"), True)
    assert await gateway.fetch_position("BTCUSDT") is None
    assert (await gateway.fetch_balance()).wallet_balance == D("9994.8")  # 10000 - 2 x 2.6

    # Reduce-only is exempt from the min notional (30 x 0.15 = 4.5 < 5), as on Binance.
    await gateway.place_market_order(order(BUY, "100", "DOGEUSDT"))
    with pytest.raises(BelowMinNotional):
        await gateway.place_market_order(order(SELL, "30", "DOGEUSDT"))
    await gateway.place_market_order(order(SELL, "30", "DOGEUSDT", reduce_only=True))
    position = await gateway.fetch_position("DOGEUSDT")
    assert position is not None
    assert position.quantity == D(70)


async def test_insufficient_margin(gateway: PaperGateway, venue: PaperVenue) -> None:
    # 3.1 x 65000 = 201500 notional; margin / 20 = 10075, + fee 80.6 = 10155.6 > 10000
    with pytest.raises(
        InsufficientMargin,
        match=r"margin is insufficient: need 10155\.60 USDT, available 10000\.00 USDT",
    ):
        await gateway.place_market_order(order(BUY, "3.1"))
    await gateway.place_market_order(order(BUY, "3"))
    # 3 x 65000 / 20 = 9750 margin; fee 78; wallet 9922; available 9922 - 9750 = 172
    assert (await gateway.fetch_balance()).available == D(172)
    # another symbol: 1 ETH x 3500 / 20 = 175, + fee 1.4 = 176.4 > 172
    with pytest.raises(InsufficientMargin, match=r"need 176\.40 USDT, available 172\.00 USDT"):
        await gateway.place_market_order(order(BUY, "1", "ETHUSDT"))
    await gateway.place_market_order(order(BUY, "0.9", "ETHUSDT"))  # 157.5 + 1.26 <= 172

    # A crash leaves equity far below the margin in use; closing must still work.
    await venue.set_mark_price("BTCUSDT", D(62000))
    balance = await gateway.fetch_balance()
    # unrealized (62000 - 65000) x 3 = -9000 (ETH is flat at 3500); wallet 9922 - 1.26;
    # margin 9750 + 0.9 x 3500 / 20 = 9907.5; available 9920.74 - 9000 - 9907.5 = -8986.76
    assert (balance.unrealized_pnl, balance.available) == (D(-9000), D("-8986.76"))
    with pytest.raises(InsufficientMargin):
        await gateway.place_market_order(order(BUY, "0.001"))
    await gateway.place_market_order(order(SELL, "1"))  # reduces: no margin needed
    await gateway.place_market_order(order(SELL, "1", reduce_only=True))
    position = await gateway.fetch_position("BTCUSDT")
    assert position is not None
    assert (position.quantity, position.entry_price) == (D(1), D(65000))


async def test_leverage_is_per_symbol_and_validated(
    gateway: PaperGateway, venue: PaperVenue
) -> None:
    for bad in (0, 126):
        with pytest.raises(OrderRejected, match=f"leverage {bad} is not valid for ETHUSDT"):
            await gateway.set_leverage("ETHUSDT", bad)
    with pytest.raises(UnknownSymbol):
        await gateway.set_leverage("FOOUSDT", 10)
    with pytest.raises(AuthRejected):
        await venue.set_leverage("bob", "BTCUSDT", 10)

    # 7 BTC = 455000 notional: at the default 20x that needs 22750 margin; at 50x 9100 + fee 182
    with pytest.raises(InsufficientMargin):
        await gateway.place_market_order(order(BUY, "7"))
    await gateway.set_leverage("BTCUSDT", 50)
    await gateway.place_market_order(order(BUY, "7"))
    await gateway.place_market_order(order(BUY, "1", "ETHUSDT"))  # fee 1.4, margin 175 at 20x
    positions = {p.symbol: p for p in await gateway.fetch_positions()}
    assert (positions["BTCUSDT"].leverage, positions["ETHUSDT"].leverage) == (50, 20)
    # wallet 10000 - 182 - 1.4 = 9816.6; available 9816.6 - 9100 - 175 = 541.6
    assert (await gateway.fetch_balance()).available == D("541.6")

    # Changing the leverage of an open position changes the margin it holds.
    await gateway.set_leverage("BTCUSDT", 100)  # 455000 / 100 = 4550
    assert (await gateway.fetch_balance()).available == D("5091.6")  # 9816.6 - 4550 - 175


async def test_find_order_by_client_order_id(gateway: PaperGateway, venue: PaperVenue) -> None:
    assert await gateway.find_order("BTCUSDT", "mimic-1") is None
    first = await gateway.place_market_order(order(BUY, "0.01", client_order_id="mimic-1"))
    assert await gateway.find_order("BTCUSDT", "mimic-1") == first
    assert await gateway.find_order("ETHUSDT", "mimic-1") is None
    assert await venue.find_order("bob", "BTCUSDT", "mimic-1") is None

    # Binance rejects a duplicate id only among open orders; a filled one's id can be reused.
    again = await gateway.place_market_order(order(SELL, "0.01", client_order_id="mimic-1"))
    assert again.exchange_order_id != first.exchange_order_id
    assert await gateway.find_order("BTCUSDT", "mimic-1") == again


# Faults


@pytest.mark.parametrize(
    ("fault", "error", "executed"),
    [
        (Fault.TIMEOUT_AFTER_EXECUTION, OutcomeUnknown, True),
        (Fault.TIMEOUT_BEFORE_EXECUTION, OutcomeUnknown, False),
        (Fault.RATE_LIMITED, RateLimited, False),
        (Fault.INSUFFICIENT_MARGIN, InsufficientMargin, False),
    ],
)
async def test_each_fault_once(
    gateway: PaperGateway,
    venue: PaperVenue,
    fault: Fault,
    error: type[Exception],
    executed: bool,
) -> None:
    venue.faults.add(fault.value)
    with pytest.raises(error, match="injected fault"):
        await gateway.place_market_order(order(BUY, "0.01", client_order_id="mimic-x"))
    found = await gateway.find_order("BTCUSDT", "mimic-x")
    position = await gateway.fetch_position("BTCUSDT")
    if executed:
        assert found is not None
        assert (found.quantity, found.average_price, found.fee) == (
            D("0.01"),
            D(65000),
            D("0.26"),
        )
        assert position is not None
        assert position.quantity == D("0.01")
    else:
        assert found is None
        assert position is None
        assert (await gateway.fetch_balance()).wallet_balance == D(10000)
    # One-shot: the next order goes through.
    await gateway.place_market_order(order(BUY, "0.01"))


async def test_faults_can_be_scoped_and_repeated(engine: AsyncEngine) -> None:
    faults = PaperFaults()
    venue = make_venue(engine, faults)
    for account in ("alice", "bob"):
        await venue.open_account(account)
    faults.add("rate_limited", times=2, account_id="bob", retry_after=2.5)
    faults.add(Fault.TIMEOUT_BEFORE_EXECUTION, times=None, symbol="ETHUSDT")

    await venue.place_market_order("alice", order(BUY, "0.01"))
    for _ in range(2):
        with pytest.raises(RateLimited) as caught:
            await venue.place_market_order("bob", order(BUY, "0.01"))
        assert caught.value.retry_after_seconds == 2.5
        assert caught.value.retryable
    await venue.place_market_order("bob", order(BUY, "0.01"))
    for _ in range(3):
        with pytest.raises(OutcomeUnknown):
            await venue.place_market_order("alice", order(BUY, "0.01", "ETHUSDT"))
    faults.clear()
    await venue.place_market_order("alice", order(BUY, "0.01", "ETHUSDT"))
    assert await venue.position("alice", "ETHUSDT") is not None

    with pytest.raises(ValueError, match="times must be at least 1"):
        faults.add("rate_limited", times=0)
    with pytest.raises(ValueError, match="is not a valid Fault"):
        faults.add("meteor_strike")


async def test_latency_is_added_before_each_order(gateway: PaperGateway, venue: PaperVenue) -> None:
    venue.faults.latency = 0.05
    started = time.perf_counter()
    await gateway.place_market_order(order(BUY, "0.01"))
    assert time.perf_counter() - started >= 0.05


# Concurrency and sharing


async def test_concurrent_orders_on_one_account_keep_the_books(
    gateway: PaperGateway, venue: PaperVenue, engine: AsyncEngine
) -> None:
    requests = [order(BUY if n % 5 < 3 else SELL, "0.01") for n in range(50)]  # 30 buys
    await asyncio.gather(*(gateway.place_market_order(r) for r in requests))
    # 30 x 0.01 - 20 x 0.01 = 0.1 long; all at 65000, so nothing realized;
    # fees 50 x 0.01 x 65000 x 0.0004 = 50 x 0.26 = 13; wallet 9987
    position = await gateway.fetch_position("BTCUSDT")
    assert position is not None
    assert (position.side, position.quantity, position.entry_price) == (
        PositionSide.LONG,
        D("0.1"),
        D(65000),
    )
    assert (await gateway.fetch_balance()).wallet_balance == D(9987)
    assert len(await order_rows(engine, "alice")) == 50


async def test_concurrent_orders_and_price_moves_stay_consistent(
    gateway: PaperGateway, venue: PaperVenue, engine: AsyncEngine
) -> None:
    requests = [order(BUY if n % 5 < 3 else SELL, "0.01") for n in range(50)]
    prices = [venue.set_mark_price("BTCUSDT", D(64000 + 100 * n)) for n in range(20)]
    await asyncio.gather(*(gateway.place_market_order(r) for r in requests), *prices)
    rows = await order_rows(engine, "alice")
    signed = sum(r.quantity if r.side == "buy" else -r.quantity for r in rows)
    position = await gateway.fetch_position("BTCUSDT")
    assert position is not None
    assert signed == position.quantity == D("0.1")
    wallet = D(10000) + sum(r.realized_pnl - r.fee for r in rows)
    assert (await gateway.fetch_balance()).wallet_balance == wallet


async def test_concurrent_orders_on_many_accounts(venue: PaperVenue) -> None:
    accounts = [f"acct{n}" for n in range(50)]
    await asyncio.gather(*(venue.open_account(a) for a in accounts))
    await asyncio.gather(*(venue.place_market_order(a, order(BUY, "0.01")) for a in accounts))
    for account in accounts:
        # fee 0.01 x 65000 x 0.0004 = 0.26
        assert (await venue.balance(account)).wallet_balance == D("9999.74")
        [position] = await venue.positions(account)
        assert position.quantity == D("0.01")


async def test_a_second_venue_on_the_same_database_shares_the_books(
    gateway: PaperGateway, venue: PaperVenue, database_url: str
) -> None:
    await venue.set_mark_price("ETHUSDT", D(3000))
    await gateway.place_market_order(order(BUY, "1", "ETHUSDT", client_order_id="mimic-e"))

    other_engine = make_engine(database_url)  # as in another process
    try:
        other = make_venue(other_engine)
        assert await other.mark_price("ETHUSDT") == D(3000)
        position = await other.position("alice", "ETHUSDT")
        assert position is not None
        assert (position.quantity, position.entry_price) == (D(1), D(3000))
        assert await other.find_order("alice", "ETHUSDT", "mimic-e") is not None
        await other.place_market_order("alice", order(SELL, "0.5", "ETHUSDT"))
    finally:
        await other_engine.dispose()
    position = await gateway.fetch_position("ETHUSDT")
    assert position is not None
    assert position.quantity == D("0.5")


async def test_gateways_serve_paper_accounts_only(venue: PaperVenue) -> None:
    gateways = PaperGateways(venue)
    assert gateways.supports("paper")
    assert not gateways.supports("binanceusdm")
    now = datetime.now(UTC)
    paper = ExchangeAccount(id="alice", user_id="u1", exchange="paper", label="p", created_at=now)
    binance = ExchangeAccount(
        id="b", user_id="u1", exchange="binanceusdm", label="b", created_at=now
    )
    with pytest.raises(ExchangeUnavailable, match="binanceusdm is not served"):
        await gateways.for_account(binance)
    gateway = await gateways.for_account(paper)
    assert await gateways.for_account(paper) is gateway
    await venue.open_account("alice")
    assert (await gateway.fetch_balance()).wallet_balance == D(10000)
    assert await gateway.fetch_mark_price("BTCUSDT") == D(65000)
    assert (await gateway.market_rules("BTCUSDT")).step_size == D("0.001")
