"""The one order sender: every rule, and every branch where the callers' policies differ."""

import asyncio
import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

import pytest

from mimic.application.exchange_concurrency import ExchangeConcurrency
from mimic.application.order_sender import (
    CLOSE_ALL,
    FANOUT,
    LEASE_RAN_SHORT,
    MONITOR,
    PANIC,
    OrderSender,
    SendLimits,
    SendPolicy,
)
from mimic.domain.errors import (
    ExchangeUnavailable,
    InsufficientMargin,
    OutcomeUnknown,
    RateLimited,
)
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg, OrderSide
from mimic.domain.positions import PositionSide
from tests.fakes.exchange import FakeExchange
from tests.fakes.services import START, FixedClock

WINDOW = timedelta(seconds=9)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def exchange(clock: FixedClock) -> FakeExchange:
    venue = FakeExchange(mark_prices={"BTCUSDT": D(65000)}, clock=clock)
    venue.window = WINDOW
    venue.set_position("BTCUSDT", PositionSide.LONG, D("0.5"))
    return venue


@pytest.fixture
def sender(clock: FixedClock) -> OrderSender:
    return OrderSender(clock)


def intent(
    *,
    side: OrderSide = OrderSide.BUY,
    quantity: str = "0.010",
    reduce_only: bool = False,
    leverage: int | None = None,
    attempts: int = 1,
    reason: str | None = None,
) -> OrderIntent:
    held = OrderIntent(
        id="i1",
        signal_id="s1",
        account_id="a1",
        user_id="u1",
        leg=OrderLeg.CLOSE if reduce_only else OrderLeg.ENTRY,
        symbol="BTCUSDT",
        side=side,
        quantity=D(quantity),
        reduce_only=reduce_only,
        leverage=leverage,
        client_order_id="mimic-c1",
        created_at=START,
        reason=reason,
    )
    held.hold_for_sending(START)
    held.attempts = attempts
    return held


def close(attempts: int = 1) -> OrderIntent:
    """A close planned without the reduce-only flag: only the policy makes it one."""
    return intent(side=OrderSide.SELL, quantity="0.5", attempts=attempts)


# --- a first attempt ---------------------------------------------------------------------


async def test_a_fill_is_recorded_with_the_intent_flags_and_leverage(
    sender: OrderSender, exchange: FakeExchange
) -> None:
    order = intent(leverage=7)
    await sender.send(order, exchange, FANOUT)
    assert (order.status, order.filled_quantity, order.exchange_order_id) == (
        IntentStatus.FILLED,
        D("0.010"),
        "1001",
    )
    [request] = exchange.placed
    assert request.reduce_only is False
    assert exchange.leverage["BTCUSDT"] == 7
    assert exchange.order_calls() == [("place", "mimic-c1")]  # nothing looked up first


@pytest.mark.parametrize(
    ("policy", "reduce_only"), [(FANOUT, False), (MONITOR, False), (CLOSE_ALL, True), (PANIC, True)]
)
async def test_closes_only_policies_send_every_order_reduce_only(
    sender: OrderSender, exchange: FakeExchange, policy: SendPolicy, reduce_only: bool
) -> None:
    await sender.send(close(), exchange, policy)
    [request] = exchange.requests
    assert request.reduce_only is reduce_only


async def test_panic_cancels_tp_sl_first_and_closes_even_when_that_fails(
    sender: OrderSender, exchange: FakeExchange
) -> None:
    await sender.send(close(), exchange, FANOUT)
    assert [c for c, _ in exchange.calls if c == "cancel_protective"] == []

    exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.5"))
    exchange.calls.clear()
    order = close()
    await sender.send(order, exchange, PANIC)
    assert [c for c, _ in exchange.calls if c in ("cancel_protective", "place")] == [
        "cancel_protective",
        "place",
    ]
    assert order.status is IntentStatus.FILLED


@pytest.mark.parametrize(
    ("policy", "status", "reason"),
    [
        (FANOUT, IntentStatus.PENDING, "Too many requests"),
        (CLOSE_ALL, IntentStatus.PENDING, "Too many requests"),
        (MONITOR, IntentStatus.PENDING, "trailing stop hit; Too many requests"),
        (PANIC, IntentStatus.REJECTED, "Too many requests"),  # no later round to retry in
    ],
)
async def test_a_retryable_refusal_waits_for_a_later_round_unless_there_is_none(
    sender: OrderSender,
    exchange: FakeExchange,
    policy: SendPolicy,
    status: IntentStatus,
    reason: str,
) -> None:
    exchange.fail_next_place(RateLimited("Too many requests"))
    order = intent(reason="trailing stop hit")
    await sender.send(order, exchange, policy)
    assert (order.status, order.reason) == (status, reason)
    assert exchange.placed == []


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (FANOUT, "Margin is insufficient."),
        (MONITOR, "trailing stop hit; refused: Margin is insufficient."),
        (PANIC, "Margin is insufficient."),
    ],
)
async def test_a_definitive_refusal_is_final_in_the_exchange_words(
    sender: OrderSender, exchange: FakeExchange, policy: SendPolicy, reason: str
) -> None:
    exchange.fail_next_place(InsufficientMargin("Margin is insufficient."))
    order = intent(reason="trailing stop hit")
    await sender.send(order, exchange, policy)
    assert (order.status, order.reason) == (IntentStatus.REJECTED, reason)


async def test_the_monitor_keeps_why_it_sent_the_order_after_the_fill(
    sender: OrderSender, exchange: FakeExchange
) -> None:
    order = intent(reason="trailing stop hit at 66300")
    await sender.send(order, exchange, MONITOR)
    assert (order.status, order.reason) == (IntentStatus.FILLED, "trailing stop hit at 66300")


# --- lease and expiry --------------------------------------------------------------------


async def test_past_the_deadline_nothing_goes_out_not_even_a_lookup(
    sender: OrderSender, exchange: FakeExchange
) -> None:
    order = intent(attempts=2)
    await sender.send(order, exchange, FANOUT, SendLimits(deadline=time.monotonic() - 1))
    assert (order.status, order.reason) == (IntentStatus.PENDING, LEASE_RAN_SHORT)
    assert exchange.calls == []


async def test_a_deadline_passed_during_the_lookup_sends_nothing(
    sender: OrderSender, exchange: FakeExchange
) -> None:
    async def slow_lookup(symbol: str, client_order_id: str) -> None:
        await asyncio.sleep(0.05)

    exchange.find_recent_order = slow_lookup  # type: ignore[method-assign,assignment]
    order = intent(attempts=2)
    await sender.send(order, exchange, FANOUT, SendLimits(deadline=time.monotonic() + 0.02))
    assert (order.status, order.reason) == (IntentStatus.PENDING, LEASE_RAN_SHORT)
    assert exchange.placed == []


async def test_an_expired_order_is_looked_up_then_skipped(
    sender: OrderSender, exchange: FakeExchange
) -> None:
    order = intent(attempts=2)
    await sender.send(order, exchange, FANOUT, SendLimits(expired=lambda: "signal expired"))
    assert (order.status, order.reason) == (IntentStatus.SKIPPED, "signal expired")
    assert exchange.order_calls() == [("find", "mimic-c1")]
    assert exchange.placed == []


# --- before a resend ---------------------------------------------------------------------


async def test_a_resend_is_preceded_by_a_lookup_and_a_search_of_recent_orders(
    sender: OrderSender, exchange: FakeExchange
) -> None:
    order = intent(attempts=2)
    await sender.send(order, exchange, FANOUT)
    assert [c for c in exchange.calls if c[0] in ("find", "recent", "place")] == [
        ("find", "mimic-c1"),
        ("recent", "mimic-c1"),
        ("place", "mimic-c1"),
    ]
    assert order.status is IntentStatus.FILLED


async def test_a_venue_whose_lookup_sees_every_order_is_not_searched_twice(
    sender: OrderSender, exchange: FakeExchange
) -> None:
    exchange.sees_every_order = True  # the paper venue
    order = intent(attempts=2)
    await sender.send(order, exchange, FANOUT)
    assert exchange.order_calls() == [("find", "mimic-c1"), ("place", "mimic-c1")]
    assert ("recent", "mimic-c1") not in exchange.calls
    held = replace(close(), client_order_id="mimic-c2")
    exchange.fail_next_place(OutcomeUnknown("timeout"))
    await sender.send(held, exchange, PANIC)
    exchange.calls.clear()
    await sender.settle([(held, exchange)], lookups=1)
    assert exchange.calls == [("find", "mimic-c2")]


async def test_an_order_found_before_a_resend_is_recorded_not_sent_again(
    sender: OrderSender, exchange: FakeExchange
) -> None:
    await sender.send(intent(), exchange, FANOUT)
    again = intent(attempts=2)
    await sender.send(again, exchange, FANOUT)
    assert (again.status, again.exchange_order_id) == (IntentStatus.FILLED, "1001")
    assert len(exchange.placed) == 1


async def test_an_empty_lookup_by_client_id_alone_is_no_proof(
    sender: OrderSender, exchange: FakeExchange
) -> None:
    # Binance answers -2013 for a client id that is no longer among the open orders;
    # the account's recent orders still show the execution.
    await sender.send(intent(), exchange, FANOUT)
    found_by_id = exchange.find_order

    async def not_found_by_id(symbol: str, client_order_id: str) -> None:
        await found_by_id(symbol, client_order_id)

    exchange.find_order = not_found_by_id  # type: ignore[method-assign,assignment]
    again = intent(attempts=2)
    await sender.send(again, exchange, FANOUT)
    assert (again.status, again.exchange_order_id) == (IntentStatus.FILLED, "1001")
    assert len(exchange.placed) == 1


@pytest.mark.parametrize("policy", [FANOUT, MONITOR, CLOSE_ALL])
async def test_a_lookup_that_finds_the_order_still_working_holds_it(
    sender: OrderSender, exchange: FakeExchange, policy: SendPolicy
) -> None:
    exchange.find_error = OutcomeUnknown("order mimic-c1 is still working (NEW)")
    order = intent(attempts=2)
    await sender.send(order, exchange, policy)
    assert order.status is IntentStatus.SUBMITTING
    assert order.reason is not None
    assert "outcome unknown (order mimic-c1 is still working (NEW))" in order.reason
    assert exchange.placed == []


async def test_a_lookup_that_cannot_be_made_sends_nothing(
    sender: OrderSender, exchange: FakeExchange
) -> None:
    exchange.recent_error = ExchangeUnavailable("502 from the exchange")
    order = intent(attempts=2)
    await sender.send(order, exchange, FANOUT)
    assert (order.status, order.reason) == (IntentStatus.PENDING, "502 from the exchange")
    assert exchange.placed == []


# --- unknown outcomes --------------------------------------------------------------------


async def test_a_timeout_after_execution_is_found_at_once(
    sender: OrderSender, exchange: FakeExchange
) -> None:
    exchange.execute_then_raise(OutcomeUnknown("Timeout waiting for response (-1007)"))
    order = intent()
    await sender.send(order, exchange, FANOUT)
    assert (order.status, order.exchange_order_id) == (IntentStatus.FILLED, "1001")
    assert exchange.order_calls() == [("place", "mimic-c1"), ("find", "mimic-c1")]


@pytest.mark.parametrize(("policy", "lookups"), [(FANOUT, 1), (MONITOR, 0), (CLOSE_ALL, 0)])
async def test_an_unknown_outcome_is_held_never_taken_as_a_refusal(
    sender: OrderSender, exchange: FakeExchange, policy: SendPolicy, lookups: int
) -> None:
    exchange.fail_next_place(OutcomeUnknown("timeout"))
    order = intent()
    await sender.send(order, exchange, policy)
    assert order.status is IntentStatus.SUBMITTING  # held: its lease keeps resends away
    assert order.reason is not None
    assert order.reason.endswith("outcome unknown (timeout); looked up before any resend")
    assert [c for c, _ in exchange.order_calls()] == ["place"] + ["find"] * lookups


async def test_a_late_execution_after_an_empty_lookup_is_found_before_any_resend(
    sender: OrderSender, exchange: FakeExchange, clock: FixedClock
) -> None:
    # -1007, then -2013 at once: no proof. It executes before the next lookup.
    exchange.execute_late(at_lookup=2)
    order = intent()
    await sender.send(order, exchange, FANOUT)
    assert order.status is IntentStatus.SUBMITTING
    assert exchange.placed == []

    clock.advance(timedelta(minutes=1))  # the lease ran out: another round takes it
    again = intent(attempts=2)
    await sender.send(again, exchange, FANOUT)
    assert again.status is IntentStatus.FILLED
    assert len(exchange.placed) == 1  # the late execution, never a second order
    assert [c for c, _ in exchange.order_calls()] == ["place", "find", "find"]


async def test_lookups_after_an_unknown_outcome_are_spread_over_the_receive_window(
    sender: OrderSender, exchange: FakeExchange, clock: FixedClock
) -> None:
    exchange.execute_late(at_lookup=3)
    order = intent()
    spread = replace(FANOUT, lookups_when_unknown=4)
    await sender.send(order, exchange, spread)
    assert order.status is IntentStatus.FILLED  # the third lookup, 6 s in, saw it
    assert clock.slept == [3.0, 3.0]
    assert clock.now() - START == timedelta(seconds=6)


async def test_a_failed_lookup_is_no_answer_the_next_one_asks_again(
    sender: OrderSender, exchange: FakeExchange, clock: FixedClock
) -> None:
    exchange.fail_next_place(OutcomeUnknown("timeout"))
    exchange.find_error = ExchangeUnavailable("502")
    order = intent()
    await sender.send(order, exchange, replace(FANOUT, lookups_when_unknown=2))
    assert order.status is IntentStatus.SUBMITTING
    assert [c for c, _ in exchange.order_calls()] == ["place", "find", "find"]
    assert sum(clock.slept) == WINDOW.total_seconds()


# --- settling what stayed unknown (panic) ------------------------------------------------


async def test_settle_looks_again_over_the_receive_window_then_searches_recent_orders(
    sender: OrderSender, exchange: FakeExchange, clock: FixedClock
) -> None:
    exchange.execute_late(at_lookup=4)  # the send's own lookup, then the third round
    order = close()
    await sender.send(order, exchange, PANIC)
    assert order.status is IntentStatus.SUBMITTING

    await sender.settle([(order, exchange)], lookups=3)

    assert order.status is IntentStatus.FILLED
    assert clock.slept == [3.0, 3.0, 3.0]  # the last lookup at the end of the window
    assert len(exchange.placed) == 1


async def test_what_settle_cannot_find_stays_held_after_the_recent_orders(
    sender: OrderSender, exchange: FakeExchange, clock: FixedClock
) -> None:
    exchange.fail_next_place(OutcomeUnknown("timeout"))  # never executed
    order = close()
    await sender.send(order, exchange, PANIC)
    exchange.calls.clear()
    await sender.settle([(order, exchange)], lookups=2)
    assert order.status is IntentStatus.SUBMITTING
    assert [c for c, _ in exchange.calls] == ["find", "find", "recent"]
    assert sum(clock.slept) == WINDOW.total_seconds()
    assert exchange.placed == []


async def test_settle_takes_the_longest_window_and_ignores_failed_lookups(
    sender: OrderSender, clock: FixedClock
) -> None:
    slow, fast = FakeExchange(), FakeExchange()
    slow.window, fast.window = timedelta(seconds=20), timedelta(seconds=2)
    slow.find_error = ExchangeUnavailable("502")
    slow.recent_error = ExchangeUnavailable("502")
    first, second = close(), replace(close(), id="i2", client_order_id="mimic-c2")
    await sender.settle([(first, slow), (second, fast)], lookups=2)
    assert (first.status, second.status) == (IntentStatus.SUBMITTING, IntentStatus.SUBMITTING)
    assert clock.slept == [10.0, 10.0]


async def test_settle_without_lookups_or_intents_does_nothing(
    sender: OrderSender, exchange: FakeExchange, clock: FixedClock
) -> None:
    await sender.settle([(close(), exchange)], lookups=0)
    await sender.settle([], lookups=3)
    assert (exchange.calls, clock.slept) == ([], [])


# --- concurrency per exchange ------------------------------------------------------------


async def test_each_exchange_gets_its_own_bound() -> None:
    running: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}
    done: list[str] = []

    async def work(item: tuple[str, int]) -> None:
        exchange, n = item
        running[exchange] += 1
        peak[exchange] = max(peak[exchange], running[exchange])
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        running[exchange] -= 1
        done.append(f"{exchange}{n}")

    items = [("a", n) for n in range(10)] + [("b", n) for n in range(10)]
    await ExchangeConcurrency(3, {"b": 5}).run(items, lambda i: i[0], work)
    assert peak == {"a": 3, "b": 5}
    assert sorted(done) == sorted(f"{e}{n}" for e, n in items)


@pytest.mark.parametrize(("default", "overrides"), [(0, {}), (4, {"paper": 0})])
def test_a_bound_below_one_is_refused(default: int, overrides: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ExchangeConcurrency(default, overrides)
