"""Exchange calls are counted on their way through: orders by outcome, errors by kind,
and signal-to-fill time when a signal's fan-out sends them."""

from datetime import timedelta
from decimal import Decimal

import pytest

from mimic.adapters.metered_gateways import MeteredGateways, error_code
from mimic.application import work_context
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import (
    ExchangeUnavailable,
    InsufficientMargin,
    OutcomeUnknown,
    RateLimited,
)
from mimic.domain.orders import OrderRequest, OrderSide
from tests.fakes.exchange import FakeExchange, FakeGateways
from tests.fakes.metrics import RecordingMetrics
from tests.fakes.services import START, FixedClock

ORDER = OrderRequest("BTCUSDT", OrderSide.BUY, Decimal("0.01"), "mimic-cid-1", False)


def account(account_id: str) -> ExchangeAccount:
    return ExchangeAccount(account_id, "user-1", "paper", "main", START)


@pytest.fixture
def world() -> tuple[MeteredGateways, FakeExchange, RecordingMetrics, FixedClock]:
    clock = FixedClock()
    exchange = FakeExchange(mark_prices={"BTCUSDT": Decimal(65000)})
    metrics = RecordingMetrics()
    gateways = MeteredGateways(FakeGateways({"acct-1": exchange}), metrics, clock)
    return gateways, exchange, metrics, clock


async def test_orders_are_counted_by_outcome_and_errors_by_kind(
    world: tuple[MeteredGateways, FakeExchange, RecordingMetrics, FixedClock],
) -> None:
    gateways, exchange, metrics, _ = world
    gateway = await gateways.for_account(account("acct-1"))

    await gateway.place_market_order_at_leverage(ORDER, 5)
    exchange.fail_next_place(InsufficientMargin("margin is insufficient"))
    with pytest.raises(InsufficientMargin):
        await gateway.place_market_order(ORDER)
    exchange.fail_next_place(RateLimited("slow down"))
    with pytest.raises(RateLimited):
        await gateway.place_market_order(ORDER)
    exchange.execute_then_raise()
    with pytest.raises(OutcomeUnknown):
        await gateway.place_market_order(ORDER)
    exchange.read_error = ExchangeUnavailable("502 from the exchange")
    with pytest.raises(ExchangeUnavailable):
        await gateway.fetch_balance()
    with pytest.raises(ExchangeUnavailable):  # the fan-out's read, passed on without a closure
        await gateway.fetch_snapshot("BTCUSDT", with_balance=True)

    assert metrics.orders == {
        ("paper", "filled"): 1,
        ("paper", "rejected"): 1,
        ("paper", "error"): 1,
        ("paper", "unknown"): 1,
    }
    assert metrics.errors == {
        ("paper", "insufficient_margin"): 1,
        ("paper", "rate_limited"): 1,
        ("paper", "outcome_unknown"): 1,
        ("paper", "exchange_unavailable"): 2,
    }
    assert metrics.fills == []  # no signal was being worked on


async def test_a_fill_in_a_signals_fan_out_reports_the_time_since_the_signal(
    world: tuple[MeteredGateways, FakeExchange, RecordingMetrics, FixedClock],
) -> None:
    gateways, _, metrics, clock = world
    work_context.working_on_signal("signal-1", received_at=START)
    clock.advance(timedelta(milliseconds=1500))
    gateway = await gateways.for_account(account("acct-1"))

    await gateway.place_market_order(ORDER)

    assert metrics.fills == [("paper", 1.5)]


async def test_an_unreachable_account_counts_as_an_error_of_its_exchange(
    world: tuple[MeteredGateways, FakeExchange, RecordingMetrics, FixedClock],
) -> None:
    gateways, _, metrics, _ = world
    with pytest.raises(ExchangeUnavailable):
        await gateways.for_account(account("acct-unknown"))
    assert metrics.errors == {("paper", "exchange_unavailable"): 1}


def test_error_codes_are_the_kind_of_error_not_its_text() -> None:
    assert error_code(InsufficientMargin("anything at all")) == "insufficient_margin"
    assert error_code(OutcomeUnknown("timeout")) == "outcome_unknown"


async def test_the_wrapped_venue_answers_for_its_receive_window_and_order_lookups(
    world: tuple[MeteredGateways, FakeExchange, RecordingMetrics, FixedClock],
) -> None:
    # The order sender proves an order absent by these: a default standing in for them
    # (10 s, "the lookup may miss orders", find_order for find_recent_order) was wrong.
    gateways, exchange, _, _ = world
    exchange.window = timedelta(seconds=3)
    exchange.sees_every_order = True
    gateway = await gateways.for_account(account("acct-1"))

    assert gateway.receive_window == timedelta(seconds=3)
    assert gateway.lookup_sees_every_order is True
    assert await gateway.find_recent_order("BTCUSDT", "mimic-cid-1") is None
    assert exchange.calls[-1] == ("recent", "mimic-cid-1")
