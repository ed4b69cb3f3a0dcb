"""Copy fidelity's formulas, against figures worked out by hand."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mimic.domain.errors import InvalidField
from mimic.domain.fidelity import (
    CopySample,
    FidelityPeriod,
    MissedReason,
    OutcomeCount,
    copy_fidelity,
    copy_stats,
    latency_ms,
    percentile,
    slippage_bps,
    stats_by_follower,
    summarize,
    summarize_by_follower,
)
from mimic.domain.orders import IntentStatus, OrderFill, OrderIntent, OrderLeg, OrderSide

D = Decimal
RECEIVED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_latency_runs_from_receipt_to_the_exchanges_acknowledgement() -> None:
    assert latency_ms(RECEIVED, RECEIVED + timedelta(milliseconds=250)) == 250
    assert latency_ms(RECEIVED, RECEIVED + timedelta(seconds=1, microseconds=400)) == 1000
    assert latency_ms(RECEIVED, RECEIVED + timedelta(microseconds=1600)) == 2


@pytest.mark.parametrize(
    ("side", "fill", "expected"),
    [
        # 13 / 65,000 x 10,000 = 2 bps: a buy above the reference is worse
        (OrderSide.BUY, "65013", "2.00"),
        # a buy 65 below: -65 / 65,000 x 10,000 = -10 bps, better than the master
        (OrderSide.BUY, "64935", "-10.00"),
        # a sell below the reference is worse: (65,000 - 64,987) / 65,000 x 10,000 = 2 bps
        (OrderSide.SELL, "64987", "2.00"),
        (OrderSide.SELL, "65013", "-2.00"),
        (OrderSide.BUY, "65000", "0.00"),
        # 0.5 / 65,000 x 10,000 = 0.0769.. -> 0.08
        (OrderSide.BUY, "65000.5", "0.08"),
        # halves away from zero: 0.325 / 10,000 x 10,000 = 0.325 -> 0.33; -0.33 for the sell
        (OrderSide.BUY, "10000.325", "0.33"),
        (OrderSide.SELL, "10000.325", "-0.33"),
    ],
)
def test_slippage_is_signed_so_that_worse_for_the_follower_is_positive(
    side: OrderSide, fill: str, expected: str
) -> None:
    reference = D(10000) if fill.startswith("10000.") else D(65000)
    assert slippage_bps(side, reference, D(fill)) == D(expected)


def test_slippage_needs_a_reference_above_zero() -> None:
    with pytest.raises(InvalidField, match="reference_price"):
        slippage_bps(OrderSide.BUY, D(0), D(1))


def intent(status: IntentStatus, side: OrderSide = OrderSide.SELL) -> OrderIntent:
    return OrderIntent(
        id="intent-1",
        signal_id="signal-1",
        account_id="acct-1",
        user_id="user-1",
        leg=OrderLeg.ENTRY,
        symbol="BTCUSDT",
        side=side,
        quantity=D("0.01"),
        reduce_only=False,
        leverage=5,
        client_order_id="mimic-1",
        created_at=RECEIVED,
        status=status,
    )


def test_a_filled_order_is_one_copy_with_its_latency_and_slippage() -> None:
    filled = intent(IntentStatus.SUBMITTING)
    fill = OrderFill("x1", "mimic-1", "BTCUSDT", OrderSide.SELL, D("0.01"), D(3493), D(0))
    filled.record_fill(fill, RECEIVED + timedelta(milliseconds=420))

    copied = copy_fidelity(filled, RECEIVED, D(3500))

    assert copied is not None
    assert (copied.latency_ms, copied.fill_price, copied.reference_price) == (
        420,
        D(3493),
        D(3500),
    )
    # a sell 7 below 3,500: 7 / 3,500 x 10,000 = 20 bps worse
    assert copied.slippage_bps == D("20.00")


def test_a_copy_without_a_reference_has_a_latency_but_no_slippage() -> None:
    filled = intent(IntentStatus.SUBMITTING)
    fill = OrderFill("x1", "mimic-1", "BTCUSDT", OrderSide.SELL, D("0.01"), D(3493), D(0))
    filled.record_fill(fill, RECEIVED + timedelta(milliseconds=80))

    copied = copy_fidelity(filled, RECEIVED, None)

    assert copied is not None
    assert (copied.latency_ms, copied.slippage_bps) == (80, None)


def test_an_order_that_did_not_fill_is_no_copy() -> None:
    assert copy_fidelity(intent(IntentStatus.REJECTED), RECEIVED, D(3500)) is None
    assert copy_fidelity(intent(IntentStatus.SUBMITTING), RECEIVED, D(3500)) is None


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 50) is None
    hundred = [float(n) for n in range(1, 101)]
    assert [percentile(hundred, q) for q in (50, 95, 99)] == [50, 95, 99]
    # of 4: p50 is the 2nd (ceil 2.0), p95 and p99 the 4th (ceil 3.8, 3.96)
    assert [percentile([10.0, 20.0, 30.0, 40.0], q) for q in (50, 95, 99)] == [20, 40, 40]
    assert percentile([7.0], 99) == 7


def test_a_periods_figures_count_copies_slippage_and_misses_by_reason() -> None:
    copies = [
        CopySample("alice", 100.0, D("2.00")),
        CopySample("alice", 300.0, D("-10.00")),
        CopySample("bob", 200.0, D("5.00")),
        CopySample("bob", None, None),  # filled before acknowledgement times were kept
    ]
    outcomes = [
        OutcomeCount("alice", IntentStatus.SKIPPED, "copying is paused for this follower", 2),
        OutcomeCount("bob", IntentStatus.REJECTED, "margin is insufficient", 1),
        # nothing to copy: not a miss
        OutcomeCount("bob", IntentStatus.SKIPPED, "no open position to close", 3),
        OutcomeCount("bob", IntentStatus.SKIPPED, "a long position is already open", 1),
        OutcomeCount("bob", IntentStatus.FILLED, None, 2),
    ]

    stats = stats_by_follower(copies)
    platform = summarize(stats.platform, outcomes)

    assert platform.copies == 4
    # latencies 100, 200, 300: p50 the 2nd, p95 and p99 the 3rd
    assert (platform.latency_p50_ms, platform.latency_p95_ms, platform.latency_p99_ms) == (
        200,
        300,
        300,
    )
    # (2 - 10 + 5) / 3 = -1; p95 of 3 is the 3rd smallest: 5
    assert (platform.slippage_mean_bps, platform.slippage_p95_bps) == (D("-1.00"), D("5.00"))
    assert platform.missed == 3
    assert platform.missed_reasons == [
        MissedReason("copying is paused for this follower", 2),
        MissedReason("margin is insufficient", 1),
    ]

    by_follower = summarize_by_follower(stats, outcomes)

    assert list(by_follower) == ["alice", "bob"]
    assert by_follower["alice"].latency_p50_ms == 100
    assert by_follower["alice"].slippage_mean_bps == D("-4.00")
    assert by_follower["bob"].missed == 1


def test_a_period_without_copies_has_no_figures() -> None:
    empty = summarize(copy_stats([]), [])

    assert (empty.copies, empty.latency_p50_ms, empty.slippage_mean_bps, empty.missed) == (
        0,
        None,
        None,
        0,
    )


def test_a_period_is_7d_or_30d() -> None:
    assert FidelityPeriod.parse("7d").length == timedelta(days=7)
    assert FidelityPeriod.parse("30d").length == timedelta(days=30)
    with pytest.raises(InvalidField) as raised:
        FidelityPeriod.parse("1y")
    assert raised.value.field == "period"
