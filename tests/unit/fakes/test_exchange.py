"""The fake exchange trades by the real Binance rules the interactor tests rely on.

The repository fakes are held to their ports by the contract suites
(tests/integration/ports/repositories/), on the same tests as the SQL adapters.
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from mimic.domain.errors import (
    BelowMinNotional,
    InvalidPrecision,
    ReduceOnlyRejected,
    UnknownSymbol,
)
from mimic.domain.orders import OrderRequest, OrderSide
from mimic.domain.positions import PositionSide
from tests.fakes.exchange import FakeExchange

D = Decimal
LEASE = timedelta(seconds=60)


async def test_fake_exchange_enforces_the_real_rules() -> None:
    exchange = FakeExchange(mark_prices={"BTCUSDT": D(65000), "DOGEUSDT": D("0.1")})

    def request(symbol: str, side: OrderSide, qty: str, *, reduce: bool = False) -> OrderRequest:
        return OrderRequest(symbol, side, D(qty), f"c-{len(exchange.requests)}", reduce)

    with pytest.raises(InvalidPrecision):
        await exchange.place_market_order(request("BTCUSDT", OrderSide.BUY, "0.0015"))
    with pytest.raises(BelowMinNotional):
        await exchange.place_market_order(request("DOGEUSDT", OrderSide.BUY, "49"))
    with pytest.raises(ReduceOnlyRejected):
        await exchange.place_market_order(request("BTCUSDT", OrderSide.SELL, "0.01", reduce=True))
    with pytest.raises(UnknownSymbol):
        await exchange.place_market_order(request("FOOUSDT", OrderSide.BUY, "1"))
    assert exchange.placed == []


async def test_fake_exchange_books_positions_through_a_flip() -> None:
    exchange = FakeExchange(mark_prices={"BTCUSDT": D(60000)})
    exchange.set_position("BTCUSDT", PositionSide.SHORT, D("0.010"), entry_price=D(65000))

    await exchange.place_market_order(OrderRequest("BTCUSDT", OrderSide.BUY, D("0.015"), "c1"))

    position = exchange.positions["BTCUSDT"]
    assert (position.side, position.quantity, position.entry_price) == (
        PositionSide.LONG,
        D("0.005"),
        D(60000),
    )
    # Closed 0.01 short at 60000 from 65000: +50 USDT; fee 0.015 x 60000 x 0.04 % = 0.36
    assert exchange.wallet_balance == D(10000) + D(50) - D("0.36")
    assert (await exchange.find_order("BTCUSDT", "c1")) == exchange.orders["c1"]
    assert await exchange.find_order("ETHUSDT", "c1") is None
    assert await exchange.find_order("BTCUSDT", "nope") is None
