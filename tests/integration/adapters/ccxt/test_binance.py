"""Binance USD-M specifics (binance.py) that need ccxt's markets: real ccxt against the
Binance stub over HTTP."""

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from mimic.adapters.ccxt import CcxtGateways
from mimic.adapters.ccxt.binance import market_order_request
from mimic.domain.accounts import ApiCredentials
from mimic.domain.orders import OrderRequest, OrderSide
from tests.integration.adapters.ccxt.test_ccxt_adapter import DictVault, account
from tests.stubs.binance import BinanceStub


@pytest.fixture
async def gateways() -> AsyncIterator[CcxtGateways]:
    async with BinanceStub() as stub:
        stub.add_account("key0", "secret0")
        pool = CcxtGateways(
            DictVault({"a0": ApiCredentials("key0", "secret0")}),
            api_origins={"binanceusdm": stub.base_url},
        )
        yield pool
        await pool.aclose()


@pytest.mark.parametrize("side", [OrderSide.BUY, OrderSide.SELL])
@pytest.mark.parametrize("reduce_only", [False, True])
@pytest.mark.parametrize("hedge", [False, True])
async def test_a_market_order_request_is_what_ccxt_create_order_request_maps(
    gateways: CcxtGateways, side: OrderSide, reduce_only: bool, hedge: bool
) -> None:
    """The order path builds its request itself; ccxt's mapping of the same order (the
    parameters the gateway gave create_order before) must come out the same, so a ccxt
    upgrade that changes the mapping fails here."""
    clients = gateways.clients("binanceusdm")
    public = await clients.markets()
    market = clients.market_for("ETHUSDT", public)
    assert market is not None
    request = OrderRequest("ETHUSDT", side, Decimal("0.0100"), "mimic-map-1", reduce_only)
    params: dict[str, object] = {"clientOrderId": request.client_order_id, "isAlgoOrder": False}
    if hedge:
        opens_long = (side is OrderSide.BUY) != reduce_only
        params["positionSide"] = "LONG" if opens_long else "SHORT"
    elif reduce_only:
        params["reduceOnly"] = True
    async with clients.lease(account("a0")) as pooled:
        ours = market_order_request(pooled.client, market, request, hedge)
        theirs = pooled.client.create_order_request(
            market["symbol"], "market", side.value, "0.0100", None, params
        )
    assert ours == theirs
    assert ours["quantity"] == "0.01"
    assert list(ours) == list(theirs)  # the same order of fields in the signed query
