"""The ccxt adapter under the exchange's refusals, rate limits and lost answers, and on
hedge-mode accounts: real ccxt (binanceusdm) against the Binance stub over HTTP."""

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from mimic.adapters.ccxt import CcxtGateways, WeightBudget
from mimic.domain.accounts import ApiCredentials
from mimic.domain.errors import (
    AuthRejected,
    BelowMinNotional,
    DuplicateClientOrderId,
    ExchangeError,
    InsufficientMargin,
    InvalidPrecision,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    ReduceOnlyRejected,
)
from mimic.domain.positions import PositionSide
from mimic.ports.exchange import ExchangeGateway
from tests.integration.adapters.ccxt.test_ccxt_adapter import DictVault, account, buy, sell
from tests.stubs.binance import BinanceStub

ACCOUNTS = 3


@pytest.fixture
async def stub() -> AsyncIterator[BinanceStub]:
    async with BinanceStub() as running:
        for n in range(ACCOUNTS):
            running.add_account(f"key{n}", f"secret{n}")
        running.add_account("hedge-key", "hedge-secret", dual_side=True)
        yield running


def vault() -> DictVault:
    credentials = {f"a{n}": ApiCredentials(f"key{n}", f"secret{n}") for n in range(ACCOUNTS)}
    credentials["hedged"] = ApiCredentials("hedge-key", "hedge-secret")
    return DictVault(credentials)


@pytest.fixture
async def gateways(stub: BinanceStub) -> AsyncIterator[CcxtGateways]:
    pool = CcxtGateways(vault(), api_origins={"binanceusdm": stub.base_url})
    yield pool
    await pool.aclose()


async def gateway(gateways: CcxtGateways, account_id: str = "a0") -> ExchangeGateway:
    return await gateways.for_account(account(account_id))


@pytest.mark.parametrize(
    ("code", "message", "error"),
    [
        (-2019, "Margin is insufficient.", InsufficientMargin),
        (-4164, "Order's notional must be no smaller than 5.0", BelowMinNotional),
        (-1111, "Precision is over the maximum defined for this asset.", InvalidPrecision),
        (-4116, "ClientOrderId is duplicated.", DuplicateClientOrderId),
        (-2022, "ReduceOnly Order is rejected.", ReduceOnlyRejected),
        (-4061, "Order's position side does not match user's setting.", OrderRejected),
        (-2015, "Invalid API-key, IP, or permissions for action.", AuthRejected),
    ],
)
async def test_every_refusal_is_a_domain_error_keeping_binance_words(
    stub: BinanceStub,
    gateways: CcxtGateways,
    code: int,
    message: str,
    error: type[ExchangeError],
) -> None:
    g = await gateway(gateways)
    stub.fail(code, msg=message)
    with pytest.raises(error) as caught:
        await g.place_market_order(buy("0.010", "mimic-refused"))
    assert message in caught.value.reason
    assert f"code {code}" in caught.value.reason
    assert "secret0" not in str(caught.value)
    assert "signature" not in str(caught.value)
    assert await g.find_order("BTCUSDT", "mimic-refused") is None
    # A refusal is definitive: the order was sent once, never again by the adapter.
    assert stub.calls("POST", "/fapi/v1/order") == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (-4087, "Reduce-only order is permitted only."),
        (-4088, "User can not place order currently."),
        (-4400, "Futures Trading Quantitative Rules violated, only reduceOnly order is allowed."),
        (-4192, "Trade forbidden due to Cooling-off Period."),
    ],
)
async def test_a_trading_restriction_refuses_the_order_and_keeps_the_keys(
    stub: BinanceStub, gateways: CcxtGateways, code: int, message: str
) -> None:
    g = await gateway(gateways)
    clients = gateways.clients("binanceusdm")
    stub.fail(code, msg=message)  # ccxt raises these as PermissionDenied
    with pytest.raises(OrderRejected) as caught:
        await g.place_market_order(buy("0.010", "mimic-restricted"))
    assert message in caught.value.reason
    assert f"code {code}" in caught.value.reason
    # Not bad keys: the client stays pooled and the connection still checks out.
    assert (clients.clients_built, clients.clients_closed) == (1, 0)
    check = await g.check_account()
    assert check.ok, check.detail
    assert clients.clients_built == 1


async def test_unknown_outcome_of_an_order_that_never_executed_is_proven_absent(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    g = await gateway(gateways)
    stub.fail(status=503)  # refused before execution, but the caller cannot know that
    with pytest.raises(OutcomeUnknown):
        await g.place_market_order(buy("0.010", "mimic-maybe"))
    assert await g.find_order("BTCUSDT", "mimic-maybe") is None
    # Proven absent: the caller may send it again, with the same id.
    fill = await g.place_market_order(buy("0.010", "mimic-maybe"))
    assert fill.client_order_id == "mimic-maybe"
    assert stub.accounts["key0"].held("BTCUSDT", "BOTH").amount == Decimal("0.01")


async def test_minus_1007_after_execution_is_unknown_and_found(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    g = await gateway(gateways)
    stub.fail(-1007, after_execution=True)
    with pytest.raises(OutcomeUnknown, match="execution status unknown"):
        await g.place_market_order(buy("0.010", "mimic-1007"))
    found = await g.find_order("BTCUSDT", "mimic-1007")
    assert found is not None
    assert found.quantity == Decimal("0.01")
    assert stub.calls("POST", "/fapi/v1/order") == 1


async def test_a_429_pauses_every_account_behind_the_ip_then_reads_go_on(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    first, second = await gateway(gateways, "a0"), await gateway(gateways, "a1")
    await first.market_rules("BTCUSDT")
    stub.fail(status=429, retry_after=1, method="GET", path="/fapi/v3/account")

    reading = asyncio.create_task(first.fetch_balance())
    budget = gateways.clients("binanceusdm").setup.budget
    deadline = time.monotonic() + 5
    while budget.paused_for == 0:  # until the 429 went out and came back
        assert time.monotonic() < deadline, "the 429 never paused the budget"
        await asyncio.sleep(0.01)
    assert stub.calls("GET", "/fapi/v3/account") == 1
    balance = await second.fetch_balance()  # another account: waits for the same pause
    assert (await reading).wallet_balance == balance.wallet_balance == Decimal(10000)

    limited, *after = [r for r in stub.requests if r.path == "/fapi/v3/account"]
    assert limited.api_key == "key0"
    assert sorted(r.api_key for r in after) == ["key0", "key1"]
    assert all(r.at - limited.at >= 0.95 for r in after)


async def test_an_order_hit_by_418_is_not_resent_and_the_ip_waits(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    g = await gateway(gateways)
    await g.market_rules("BTCUSDT")
    stub.fail(status=418, retry_after=2)
    with pytest.raises(RateLimited) as caught:
        await g.place_market_order(buy("0.010", "mimic-banned"))
    assert caught.value.retry_after_seconds == 2
    assert stub.calls("POST", "/fapi/v1/order") == 1
    assert gateways.clients("binanceusdm").setup.budget.paused_for > 1.5


async def test_one_weight_budget_is_shared_by_every_account(stub: BinanceStub) -> None:
    # 40 weight a second: 10 at once, then 30 a second. 3 accounts x 4 reads x 5 weight.
    skipped = [0.0]  # seconds the budget's clock is ahead of the real one
    budget = WeightBudget(40, window_seconds=1.0, clock=lambda: time.monotonic() + skipped[0])
    pool = CcxtGateways(
        vault(), api_origins={"binanceusdm": stub.base_url}, budgets={"binanceusdm": budget}
    )
    try:
        handed = [await gateway(pool, f"a{n}") for n in range(ACCOUNTS)]
        await handed[0].market_rules("BTCUSDT")
        skipped[0] = budget.window_seconds  # a full bucket again, without waiting a window
        started = time.monotonic()
        await asyncio.gather(*(g.fetch_balance() for g in handed for _ in range(4)))
        elapsed = time.monotonic() - started
    finally:
        await pool.aclose()

    reads = [r for r in stub.requests if r.path == "/fapi/v3/account"]
    assert {r.api_key for r in reads} == {"key0", "key1", "key2"}
    assert sum(r.weight for r in reads) == 60
    assert elapsed >= 1.4  # (60 - 10) / 30 s at least, whichever account asks
    for first in reads:
        window = [r for r in reads if first.at <= r.at < first.at + 1.0]
        assert sum(r.weight for r in window) <= 40 + 5  # one request of arrival jitter


async def test_hedge_mode_accounts_get_position_sides_instead_of_reduce_only(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    g = await gateway(gateways, "hedged")
    check = await g.check_account()
    assert (check.ok, check.hedge_mode) == (True, True)

    opened = await g.place_market_order(buy("0.010", "mimic-hedge-open"))
    assert opened.reduce_only is False
    held = stub.accounts["hedge-key"]
    assert held.held("BTCUSDT", "LONG").amount == Decimal("0.01")
    placed = await g.place_protective_orders(
        "BTCUSDT", PositionSide.LONG, Decimal(60000), None, "mimic-hedge-open"
    )
    assert [o["positionSide"] for o in held.algo_orders.values()] == ["LONG"]
    assert len(placed) == 1

    closed = await g.place_market_order(sell("0.010", "mimic-hedge-close", reduce_only=True))
    assert closed.reduce_only is True
    assert held.held("BTCUSDT", "LONG").amount == 0
    assert await g.fetch_position("BTCUSDT") is None
    orders = [r.params for r in stub.requests if (r.method, r.path) == ("POST", "/fapi/v1/order")]
    assert [(p.get("positionSide"), p.get("reduceOnly")) for p in orders] == [
        ("LONG", None),
        ("LONG", None),
    ]
    assert stub.unknown == []


async def test_a_hedge_account_first_seen_by_an_order_is_detected_and_served(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    g = await gateway(gateways, "hedged")
    await g.place_market_order(sell("0.010", "mimic-short"))
    assert stub.accounts["hedge-key"].held("BTCUSDT", "SHORT").amount == Decimal("-0.01")
    sent = [r.params for r in stub.requests if (r.method, r.path) == ("POST", "/fapi/v1/order")]
    # One-way form refused (-4061, nothing executed), mode asked once, sent again as SHORT.
    assert [p.get("positionSide") for p in sent] == [None, "SHORT"]
    assert stub.calls("GET", "/fapi/v1/positionSide/dual") == 1
    await g.place_market_order(sell("0.010", "mimic-short-2"))
    assert stub.calls("GET", "/fapi/v1/positionSide/dual") == 1
