"""Real ccxt (binanceusdm) against the local Binance-compatible stub, over HTTP."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mimic.adapters.ccxt import CcxtGateways
from mimic.domain.accounts import ApiCredentials, ExchangeAccount
from mimic.domain.errors import (
    AuthRejected,
    BelowMinNotional,
    InsufficientMargin,
    OutcomeUnknown,
)
from mimic.domain.orders import OrderRequest, OrderSide
from mimic.domain.positions import PositionSide
from mimic.domain.protection import protective_prefix
from mimic.ports.exchange import CredentialVault, ExchangeGateway
from tests.stubs.binance import BinanceStub


class DictVault(CredentialVault):
    def __init__(self, credentials: dict[str, ApiCredentials]) -> None:
        self._credentials = credentials

    async def credentials_for(self, account: ExchangeAccount) -> ApiCredentials:
        found = self._credentials.get(account.id)
        if found is None:
            raise AuthRejected(f"no credentials for {account.id}")
        return found


def account(account_id: str) -> ExchangeAccount:
    return ExchangeAccount(account_id, "user", "binanceusdm", "main", datetime.now(UTC))


@pytest.fixture
async def stub() -> AsyncIterator[BinanceStub]:
    async with BinanceStub() as running:
        for n in range(3):
            running.add_account(f"key{n}", f"secret{n}")
        yield running


@pytest.fixture
async def gateways(stub: BinanceStub) -> AsyncIterator[CcxtGateways]:
    vault = DictVault({f"a{n}": ApiCredentials(f"key{n}", f"secret{n}") for n in range(3)})
    pool = CcxtGateways(vault, api_origins={"binanceusdm": stub.base_url})
    yield pool
    await pool.aclose()


async def gateway(gateways: CcxtGateways, account_id: str = "a0") -> ExchangeGateway:
    return await gateways.for_account(account(account_id))


def buy(quantity: str, client_id: str, *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest("BTCUSDT", OrderSide.BUY, Decimal(quantity), client_id, reduce_only)


def sell(quantity: str, client_id: str, *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest("BTCUSDT", OrderSide.SELL, Decimal(quantity), client_id, reduce_only)


async def test_order_with_client_id_then_reduce_only_close(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    g = await gateway(gateways)
    rules = await g.market_rules("BTCUSDT")
    assert (rules.step_size, rules.min_notional) == (Decimal("0.001"), Decimal(5))
    fill = await g.place_market_order(buy("0.010", "mimic-open-1"))
    assert (fill.client_order_id, fill.quantity, fill.average_price) == (
        "mimic-open-1",
        Decimal("0.01"),
        Decimal(65000),
    )
    position = await g.fetch_position("BTCUSDT")
    assert position is not None
    assert (position.side, position.quantity) == (PositionSide.LONG, Decimal("0.01"))
    assert await g.find_order("BTCUSDT", "mimic-open-1") == fill
    assert await g.find_order("BTCUSDT", "mimic-never-sent") is None

    close = await g.place_market_order(sell("0.010", "mimic-close-1", reduce_only=True))
    assert close.reduce_only is True
    assert await g.fetch_position("BTCUSDT") is None


async def test_leverage_is_set_only_when_it_changes(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    g = await gateway(gateways)
    for _ in range(3):
        await g.set_leverage("BTCUSDT", 10)
    await g.set_leverage("BTCUSDT", 7)
    assert stub.calls("POST", "/fapi/v1/leverage") == 2


async def test_exchange_refusals_become_domain_errors_with_binance_message(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    g = await gateway(gateways)
    stub.fail(-2019, msg="Margin is insufficient.")
    with pytest.raises(InsufficientMargin, match="Margin is insufficient"):
        await g.place_market_order(buy("0.010", "mimic-m1"))
    stub.fail(-4164, msg="Order's notional must be no smaller than 5.0")
    with pytest.raises(BelowMinNotional, match="notional"):
        await g.place_market_order(buy("0.010", "mimic-m2"))
    assert await g.fetch_position("BTCUSDT") is None


async def test_503_after_execution_is_unknown_and_the_order_is_found_by_client_id(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    g = await gateway(gateways)
    stub.fail(status=503, after_execution=True)
    with pytest.raises(OutcomeUnknown):
        await g.place_market_order(buy("0.010", "mimic-lost-1"))
    found = await g.find_order("BTCUSDT", "mimic-lost-1")
    assert found is not None
    assert found.quantity == Decimal("0.01")
    assert stub.calls("POST", "/fapi/v1/order") == 1  # never resent by the adapter


async def test_recent_orders_show_an_execution_a_lookup_by_client_id_no_longer_finds(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    g = await gateway(gateways)
    assert g.receive_window == timedelta(seconds=10)  # the recvWindow ccxt signs with
    await g.place_market_order(buy("0.010", "mimic-old"))
    await g.place_market_order(buy("0.020", "mimic-other"))
    # Binance keeps client ids unique among open orders only: a lookup by the id can
    # answer -2013 although an order with it executed.
    del stub.accounts["key0"].order_by_client_id["mimic-old"]
    assert await g.find_order("BTCUSDT", "mimic-old") is None

    found = await g.find_recent_order("BTCUSDT", "mimic-old")

    assert found is not None
    assert (found.client_order_id, found.quantity) == ("mimic-old", Decimal("0.01"))
    assert await g.find_recent_order("BTCUSDT", "mimic-never") is None
    assert await g.find_recent_order("ETHUSDT", "mimic-old") is None
    assert stub.calls("GET", "/fapi/v1/allOrders") == 3
    assert stub.unknown == []


async def test_protective_orders_go_to_the_algo_endpoint_and_are_cancelled(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    g = await gateway(gateways)
    await g.place_market_order(buy("0.010", "mimic-p1"))
    placed = await g.place_protective_orders(
        "BTCUSDT", PositionSide.LONG, Decimal(60000), Decimal(70000), protective_prefix("mimic-p1")
    )
    assert len(placed) == 2
    assert stub.calls("POST", "/fapi/v1/algoOrder") == 2
    assert stub.calls("POST", "/fapi/v1/order") == 1
    await g.cancel_protective_orders("BTCUSDT")  # Mimic's "mp-" ids, as Mimic places them
    assert stub.calls("DELETE", "/fapi/v1/algoOrder") == 2


async def test_markets_load_once_for_every_account_and_checks_pass(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    for n in range(3):
        g = await gateway(gateways, f"a{n}")
        check = await g.check_account()
        assert (check.ok, check.hedge_mode) == (True, False)
        await g.market_rules("ETHUSDT")
    assert stub.calls("GET", "/fapi/v1/exchangeInfo") == 1
    assert stub.unknown == []


@pytest.mark.parametrize(
    ("withdrawals", "futures", "can_trade", "refusal"),
    [
        (True, False, False, "allows withdrawals"),  # the most serious reason is named
        (False, False, False, "not enabled for futures"),
        (False, True, False, "cannot trade (canTrade is false)"),
    ],
)
async def test_a_key_that_must_not_trade_fails_the_check_with_its_reason(
    stub: BinanceStub,
    gateways: CcxtGateways,
    withdrawals: bool,
    futures: bool,
    can_trade: bool,
    refusal: str,
) -> None:
    held = stub.accounts["key0"]
    held.enable_withdrawals, held.enable_futures, held.can_trade = withdrawals, futures, can_trade
    check = await (await gateway(gateways)).check_account()
    assert not check.ok
    assert refusal in check.detail
    assert (check.futures_enabled, check.can_trade) == (futures, can_trade)
    assert (check.key_can_trade, check.key_can_withdraw) == (futures, withdrawals)


async def test_accounts_new_to_the_process_cost_one_markets_load_and_their_orders(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    """The cold path: accounts arriving at once share one load of the markets, and a
    one-way account's first order needs no position-mode read (GET positionSide/dual
    weighs 30 of the IP's 2,400 a minute; positionRisk 5)."""
    handed = await asyncio.gather(*(gateway(gateways, f"a{n}") for n in range(3)))
    await asyncio.gather(
        *(g.place_market_order(buy("0.010", f"mimic-cold-{n}")) for n, g in enumerate(handed))
    )
    sent = sorted((r.method, r.path) for r in stub.requests)
    assert sent == [("GET", "/fapi/v1/exchangeInfo")] + [("POST", "/fapi/v1/order")] * 3
    assert gateways.clients("binanceusdm").clients_built == 3


async def test_account_clients_sign_with_their_own_keys_and_keep_their_own_state(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    """Account clients are copies of one template: credentials, options and what ccxt
    caches are each account's own; markets and the description are shared."""
    handed = [await gateway(gateways, f"a{n}") for n in range(3)]
    quantities = ("0.010", "0.020", "0.030")
    await asyncio.gather(
        *(
            g.place_market_order(buy(q, f"mimic-own-{n}"))
            for n, (g, q) in enumerate(zip(handed, quantities, strict=True))
        )
    )
    for n, quantity in enumerate(quantities):
        held = stub.accounts[f"key{n}"].positions[("BTCUSDT", "BOTH")]
        assert held.amount == Decimal(quantity)
    clients = gateways.clients("binanceusdm")
    pooled = []
    for n in range(3):
        async with clients.lease(account(f"a{n}")) as leased:
            pooled.append(leased.client)
    assert [c.apiKey for c in pooled] == ["key0", "key1", "key2"]
    assert all(c.markets is clients.public.markets for c in pooled)
    assert len({id(c.options) for c in pooled}) == 3
    assert len({id(c.balance) for c in pooled}) == 3
    assert not any(c.enableRateLimit for c in [*pooled, clients.public])
    pooled[0].options["recvWindow"] = 1234
    assert pooled[1].options.get("recvWindow") != 1234


async def test_unknown_credentials_are_refused(stub: BinanceStub, gateways: CcxtGateways) -> None:
    async def read_balance() -> None:
        await (await gateway(gateways, "nobody")).fetch_balance()

    with pytest.raises(AuthRejected):
        await read_balance()


async def test_fills_carry_binance_realized_pnl_and_commission(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    g = await gateway(gateways)
    started = datetime.now(UTC)
    await g.place_market_order(buy("0.010", "mimic-f-open"))
    stub.set_mark_price("BTCUSDT", "66000")
    await g.place_market_order(sell("0.010", "mimic-f-close", reduce_only=True))

    opened, closed = await g.fetch_fills({"BTCUSDT", "ETHUSDT"}, started - timedelta(seconds=1))
    # 0.01 BTC at 65000 (fee 0.04 % = 0.26), sold at 66000 (+10, fee 0.264).
    assert (opened.side, opened.quantity, opened.price, opened.fee, opened.realized_pnl) == (
        OrderSide.BUY,
        Decimal("0.01"),
        Decimal(65000),
        Decimal("0.26"),
        Decimal(0),
    )
    assert (closed.side, closed.price, closed.fee, closed.realized_pnl) == (
        OrderSide.SELL,
        Decimal(66000),
        Decimal("0.264"),
        Decimal(10),
    )
    assert opened.fill_id != closed.fill_id
    assert opened.executed_at >= started - timedelta(seconds=1)
    assert stub.calls("GET", "/fapi/v1/userTrades") == 2  # one window per symbol


async def test_fills_older_than_a_week_are_read_window_by_window(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    g = await gateway(gateways)
    await g.place_market_order(buy("0.010", "mimic-w-open"))
    # Binance allows 7 days between startTime and endTime: 20 days take 3 windows.
    fills = await g.fetch_fills({"BTCUSDT"}, datetime.now(UTC) - timedelta(days=20))
    assert [f.quantity for f in fills] == [Decimal("0.01")]
    assert stub.calls("GET", "/fapi/v1/userTrades") == 3


async def test_market_rules_are_built_once_per_load_of_the_markets(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    first, second = await gateway(gateways, "a0"), await gateway(gateways, "a1")
    rules = await first.market_rules("BTCUSDT")
    assert await second.market_rules("BTCUSDT") is rules  # another account, the same rules
    assert await first.market_rules("ETHUSDT") != rules

    vault = DictVault({"a0": ApiCredentials("key0", "secret0")})
    reloading = CcxtGateways(  # markets load again on every use
        vault, api_origins={"binanceusdm": stub.base_url}, markets_ttl_seconds=0
    )
    try:
        g = await reloading.for_account(account("a0"))
        before = await g.market_rules("BTCUSDT")
        after = await g.market_rules("BTCUSDT")
    finally:
        await reloading.aclose()
    assert after == before
    assert after is not before  # built again from the markets as they were reloaded
