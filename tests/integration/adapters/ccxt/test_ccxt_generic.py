"""The generic ccxt gateway (ccxt's unified API, for any exchange with perpetual swaps),
over real HTTP: Binance's ccxt class through `CcxtGateway` instead of
`BinanceUsdmGateway`, against the Binance stub. Every unified call it makes (create_order
with clientOrderId and reduceOnly, fetch_order by client id, fetch_positions, conditional
orders, fetch_my_trades, ...) is ccxt's own translation, checked by the stub."""

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import ClassVar

import pytest

from mimic.adapters.ccxt import CcxtGateway, CcxtGateways
from mimic.adapters.ccxt.mark_prices import MarkPrices
from mimic.domain.accounts import ApiCredentials
from mimic.domain.errors import (
    ExchangeUnavailable,
    InvalidPrecision,
    OrderRejected,
    OutcomeUnknown,
    ReduceOnlyRejected,
    UnknownSymbol,
)
from mimic.domain.orders import OrderSide
from mimic.domain.positions import PositionSide
from mimic.domain.protection import protective_prefix
from mimic.ports.exchange import ExchangeGateway
from tests.integration.adapters.ccxt.test_ccxt_adapter import DictVault, account, buy, sell
from tests.stubs.binance import BinanceStub


class GenericGateways(CcxtGateways):
    """Every exchange, Binance included, through the generic gateway."""

    _GATEWAY_CLASSES: ClassVar[Mapping[str, type[CcxtGateway]]] = {}


@pytest.fixture
async def stub() -> AsyncIterator[BinanceStub]:
    async with BinanceStub() as running:
        running.add_account("key0", "secret0")
        yield running


@pytest.fixture
async def gateways(stub: BinanceStub) -> AsyncIterator[CcxtGateways]:
    pool = GenericGateways(
        DictVault({"a0": ApiCredentials("key0", "secret0")}),
        api_origins={"binanceusdm": stub.base_url},
        margin_mode="isolated",
        timeout_seconds=7.0,
    )
    yield pool
    await pool.aclose()


@pytest.fixture
async def g(gateways: CcxtGateways) -> ExchangeGateway:
    gateway = await gateways.for_account(account("a0"))
    assert type(gateway) is CcxtGateway
    return gateway


def orders_sent(stub: BinanceStub) -> list[dict[str, str]]:
    return [r.params for r in stub.requests if (r.method, r.path) == ("POST", "/fapi/v1/order")]


async def test_orders_carry_the_client_id_and_closes_are_reduce_only(
    stub: BinanceStub, g: ExchangeGateway
) -> None:
    opened = await g.place_market_order(buy("0.010", "mimic-g-open"))
    assert (opened.client_order_id, opened.side, opened.quantity, opened.reduce_only) == (
        "mimic-g-open",
        OrderSide.BUY,
        Decimal("0.01"),
        False,
    )
    assert (opened.average_price, opened.fee) == (Decimal(65000), Decimal("0.325"))
    closed = await g.place_market_order(sell("0.010", "mimic-g-close", reduce_only=True))
    assert closed.reduce_only is True
    assert [(p["newClientOrderId"], p.get("reduceOnly")) for p in orders_sent(stub)] == [
        ("mimic-g-open", None),
        ("mimic-g-close", "true"),
    ]
    assert await g.fetch_position("BTCUSDT") is None
    assert stub.unknown == []


async def test_a_close_without_a_position_is_refused_and_opens_nothing(
    stub: BinanceStub, g: ExchangeGateway
) -> None:
    with pytest.raises(ReduceOnlyRejected, match="code -2022"):
        await g.place_market_order(sell("0.010", "mimic-g-stray", reduce_only=True))
    assert await g.fetch_positions() == []
    assert stub.accounts["key0"].held("BTCUSDT", "BOTH").amount == 0


async def test_orders_are_found_by_client_id_and_among_recent_orders(
    stub: BinanceStub, g: ExchangeGateway
) -> None:
    stub.fail(-1007, after_execution=True)
    with pytest.raises(OutcomeUnknown, match="code -1007"):
        await g.place_market_order(buy("0.020", "mimic-g-lost"))
    found = await g.find_order("BTCUSDT", "mimic-g-lost")
    assert found is not None
    assert (found.exchange_order_id, found.quantity) == ("8000000001", Decimal("0.02"))
    assert await g.find_order("BTCUSDT", "mimic-g-never") is None
    recent = await g.find_recent_order("BTCUSDT", "mimic-g-lost")
    assert recent == found
    assert await g.find_recent_order("BTCUSDT", "mimic-g-never") is None
    assert len(orders_sent(stub)) == 1  # never resent by the adapter
    assert g.receive_window == timedelta(seconds=7)  # the client's timeout
    stub.fail(status=503, method="GET", path="/fapi/v1/order", times=None)
    with pytest.raises(ExchangeUnavailable):
        await g.find_order("BTCUSDT", "mimic-g-lost")  # a read: retried, then unavailable
    assert stub.calls("GET", "/fapi/v1/order") == 2 + 3


async def test_positions_balance_rules_and_leverage_through_the_unified_api(
    stub: BinanceStub, g: ExchangeGateway
) -> None:
    rules = await g.market_rules("BTCUSDT")
    assert (rules.step_size, rules.tick_size, rules.min_qty) == (
        Decimal("0.001"),
        Decimal("0.1"),
        Decimal("0.001"),
    )
    assert await g.fetch_mark_price("BTCUSDT") == Decimal(65000)
    await g.set_leverage("BTCUSDT", 5)
    await g.set_leverage("BTCUSDT", 5)  # known already: nothing sent
    assert (stub.calls("POST", "/fapi/v1/leverage"), stub.calls("POST", "/fapi/v1/marginType")) == (
        1,
        1,
    )
    assert stub.accounts["key0"].margin_type["BTCUSDT"] == "isolated"
    with pytest.raises(OrderRejected, match="leverage 500 is not valid"):
        await g.set_leverage("BTCUSDT", 500)
    await g.place_market_order(sell("0.030", "mimic-g-short"))

    [position] = await g.fetch_positions()
    assert (position.symbol, position.side, position.quantity, position.entry_price) == (
        "BTCUSDT",
        PositionSide.SHORT,
        Decimal("0.03"),
        Decimal(65000),
    )
    assert await g.fetch_position("BTCUSDT") == position
    assert await g.fetch_position("ETHUSDT") is None
    balance = await g.fetch_balance()
    assert balance.currency == "USDT"
    assert balance.wallet_balance < Decimal(10000)  # the fee
    check = await g.check_account()
    assert (check.ok, check.hedge_mode) == (True, False)
    assert stub.unknown == []


async def test_wrong_sizes_and_symbols_fail_loudly_before_anything_is_sent(
    stub: BinanceStub, g: ExchangeGateway
) -> None:
    with pytest.raises(InvalidPrecision, match=r"step size 0\.001"):
        await g.place_market_order(buy("0.0105", "mimic-g-odd"))
    with pytest.raises(OrderRejected, match="must be positive"):
        await g.place_market_order(buy("0", "mimic-g-zero"))
    with pytest.raises(UnknownSymbol, match="no USDT perpetual swap"):
        await g.market_rules("NOPEUSDT")
    assert orders_sent(stub) == []


async def test_tp_sl_are_conditional_reduce_only_orders_and_only_mimics_are_cancelled(
    stub: BinanceStub, g: ExchangeGateway
) -> None:
    assert await g.place_protective_orders("BTCUSDT", PositionSide.LONG, None, None, "x") == []
    with pytest.raises(OrderRejected, match="no open long BTCUSDT position"):
        await g.place_protective_orders(
            "BTCUSDT", PositionSide.LONG, Decimal(60000), None, "mimic-g-tp"
        )
    await g.place_market_order(buy("0.010", "mimic-g-tp"))
    with pytest.raises(OrderRejected, match="longer than 34"):
        await g.place_protective_orders(
            "BTCUSDT", PositionSide.LONG, Decimal(60000), None, "mimic-" + "x" * 40
        )

    prefix = protective_prefix("mimic-g-tp")  # Mimic's real ids: "mp-" ...
    placed = await g.place_protective_orders(
        "BTCUSDT", PositionSide.LONG, Decimal("60000.04"), Decimal(70000), prefix
    )
    # The follower's own stop stays theirs.
    await g.place_protective_orders("BTCUSDT", PositionSide.LONG, Decimal(50000), None, "own-")

    held = stub.accounts["key0"].algo_orders
    assert len(placed) == 2
    mimic = sorted(
        (o["clientAlgoId"], o["side"], o["triggerPrice"], o["reduceOnly"], o["quantity"])
        for o in held.values()
        if o["clientAlgoId"].startswith(prefix)
    )
    assert mimic == [
        (prefix + "sl", "SELL", "60000", True, "0.01"),
        (prefix + "tp", "SELL", "70000", True, "0.01"),
    ]
    await g.cancel_protective_orders("BTCUSDT")
    await g.cancel_protective_orders("BTCUSDT")  # idempotent
    assert sorted((o["clientAlgoId"], o["algoStatus"]) for o in held.values()) == [
        (prefix + "sl", "CANCELED"),
        (prefix + "tp", "CANCELED"),
        ("own-sl", "NEW"),
    ]
    assert stub.unknown == []


async def test_fills_are_read_through_the_unified_trades(
    stub: BinanceStub, g: ExchangeGateway
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    await g.place_market_order(buy("0.010", "mimic-g-f1"))
    stub.set_mark_price("BTCUSDT", "66000")
    await g.place_market_order(sell("0.010", "mimic-g-f2", reduce_only=True))

    fills = await g.fetch_fills({"BTCUSDT", "DELISTEDUSDT"}, started)

    # Binance's commission and realized PnL, read from the unified trades' `info`.
    assert [(f.side, f.quantity, f.price, f.fee, f.realized_pnl) for f in fills] == [
        (OrderSide.BUY, Decimal("0.01"), Decimal(65000), Decimal("0.26"), Decimal(0)),
        (OrderSide.SELL, Decimal("0.01"), Decimal(66000), Decimal("0.264"), Decimal(10)),
    ]
    assert len({f.fill_id for f in fills}) == 2


async def test_one_mark_price_request_answers_every_concurrent_asker(stub: BinanceStub) -> None:
    prices = MarkPrices(ttl_seconds=60)
    calls = 0
    release = asyncio.Event()

    async def fetch() -> Decimal:
        nonlocal calls
        calls += 1
        await release.wait()
        return Decimal(65000)

    askers = [asyncio.create_task(prices.get("BTCUSDT", fetch)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*askers) == [Decimal(65000)] * 5
    assert await prices.get("BTCUSDT", fetch) == Decimal(65000)  # cached
    assert calls == 1

    async def failing() -> Decimal:
        await asyncio.sleep(0)
        raise ExchangeUnavailable("503")

    waiting = [asyncio.create_task(prices.get("ETHUSDT", failing)) for _ in range(3)]
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, ExchangeUnavailable) for r in results)


async def test_the_pool_refuses_what_it_cannot_serve(stub: BinanceStub) -> None:
    with pytest.raises(ValueError, match="margin_mode"):
        GenericGateways(DictVault({}), margin_mode="portfolio")
    pool = GenericGateways(
        DictVault({"a0": ApiCredentials("key0", "secret0")}),
        api_origins={"binanceusdm": stub.base_url},
    )
    assert pool.supports("binanceusdm")
    assert not pool.supports("no-such-exchange")
    assert not pool.supports("kraken")  # its spot exchange: no perpetual swaps
    nowhere = account("a0")
    nowhere.exchange = "kraken"
    with pytest.raises(ExchangeUnavailable, match="perpetual futures"):
        await pool.for_account(nowhere)
    gateway = await pool.for_account(account("a0"))
    await gateway.fetch_balance()
    clients = pool.clients("binanceusdm")
    await pool.discard("a0")
    assert (len(clients), clients.clients_closed) == (0, 1)
    await pool.aclose()
    with pytest.raises(ExchangeUnavailable, match="shut down"):
        await pool.for_account(account("a0"))
