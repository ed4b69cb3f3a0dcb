"""A master's fills become signals, and followers size them proportionally.

One scenario, computed by hand, runs through the whole file. The master has 10,000 USDT
of equity and trades BTCUSDT at 40,000:

    fill                 position before -> after   signal
    buy 0.05  (open)     0     -> 0.05              long,  0.05 x 40,000 / 10,000 = 0.2
    buy 0.03  (add)      0.05  -> 0.08              long,  0.03 x 40,000 / 10,000 = 0.12
    sell 0.02 (reduce)   0.08  -> 0.06              close, 0.02 / 0.08 = 0.25 of the position
    sell 0.10 (flip)     0.06  -> -0.04             short, the 0.04 beyond the close: 0.16
    buy 0.04  (close)    -0.04 -> 0                 close, all of it

A follower with 1,000 USDT and multiplier 1 (leverage 5, risk cap 10 %: at most 500 of
notional per fill) enters 200 / 40,000 = 0.005 BTC, adds 120 / 40,000 = 0.003, closes a
quarter of 0.008 = 0.002, then closes the remaining 0.006 and opens 160 / 40,000 = 0.004
short, then closes those 0.004.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mimic.domain.master_fills import (
    MasterCursor,
    MasterFill,
    MasterMove,
    in_copy_order,
    master_dedupe_key,
    master_signal_id,
    permission_warning,
    translate_fill,
)
from mimic.domain.orders import OrderLeg, OrderSide
from mimic.domain.planning import PlannedLeg, plan_account_orders
from mimic.domain.positions import Position, PositionSide
from mimic.domain.risk import EffectiveRisk
from mimic.domain.signal import MirroredFill, SignalAction, SignalParams
from tests.fakes.market_rules import rules_for

BTC = rules_for("BTCUSDT")
MASTER_EQUITY = Decimal(10000)
PRICE = Decimal(40000)
AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CAP = EffectiveRisk(risk_perc=Decimal(10), leverage=5)


def fill(trade_id: str, side: OrderSide, quantity: str) -> MasterFill:
    return MasterFill(trade_id, "BTCUSDT", side, Decimal(quantity), PRICE, AT)


def entry(action: SignalAction, fraction: str, trade_id: str) -> SignalParams:
    mirrored = MirroredFill(equity_fraction=Decimal(fraction))
    return SignalParams("BTCUSDT", action, external_id=trade_id, mirrored=mirrored)


def close(fraction: str, trade_id: str) -> SignalParams:
    mirrored = MirroredFill(close_fraction=Decimal(fraction))
    return SignalParams("BTCUSDT", SignalAction.CLOSE, external_id=trade_id, mirrored=mirrored)


@pytest.mark.parametrize(
    ("before", "master_fill", "move", "after", "signal"),
    [
        ("0", fill("1", OrderSide.BUY, "0.05"), MasterMove.OPEN, "0.05",
         entry(SignalAction.LONG, "0.2", "1")),
        ("0.05", fill("2", OrderSide.BUY, "0.03"), MasterMove.INCREASE, "0.08",
         entry(SignalAction.LONG, "0.12", "2")),
        ("0.08", fill("3", OrderSide.SELL, "0.02"), MasterMove.REDUCE, "0.06",
         close("0.25", "3")),
        ("0.06", fill("4", OrderSide.SELL, "0.10"), MasterMove.FLIP, "-0.04",
         entry(SignalAction.SHORT, "0.16", "4")),
        ("-0.04", fill("5", OrderSide.BUY, "0.04"), MasterMove.CLOSE, "0",
         close("1", "5")),
        # a short opened and added to, from flat
        ("0", fill("6", OrderSide.SELL, "0.25"), MasterMove.OPEN, "-0.25",
         entry(SignalAction.SHORT, "1", "6")),
        ("-0.25", fill("7", OrderSide.SELL, "0.05"), MasterMove.INCREASE, "-0.30",
         entry(SignalAction.SHORT, "0.2", "7")),
    ],
)  # fmt: skip
def test_each_kind_of_fill_becomes_its_signal(
    before: str, master_fill: MasterFill, move: MasterMove, after: str, signal: SignalParams
) -> None:
    translated = translate_fill(Decimal(before), master_fill, MASTER_EQUITY)
    assert translated.move is move
    assert translated.position_after == Decimal(after)
    assert translated.signal == signal
    assert translated.skip_reason is None


def test_a_reduce_fraction_is_cut_to_twelve_places_never_rounded_up() -> None:
    # 0.01 of 0.03 = 0.333...: followers close at most a third, never more than the master
    translated = translate_fill(Decimal("0.03"), fill("8", OrderSide.SELL, "0.01"), MASTER_EQUITY)
    assert translated.signal == close("0.333333333333", "8")


def test_without_equity_an_entry_is_not_copied_but_a_flip_still_closes() -> None:
    opened = translate_fill(Decimal(0), fill("9", OrderSide.BUY, "0.05"), Decimal(0))
    assert (opened.signal, opened.skip_reason) == (None, "the master's equity is not positive")
    flipped = translate_fill(Decimal("0.06"), fill("10", OrderSide.SELL, "0.1"), Decimal(-5))
    assert flipped.signal == close("1", "10")
    assert flipped.position_after == Decimal("-0.04")


def test_the_signal_id_and_dedupe_key_come_from_the_source_and_trade_id() -> None:
    first = master_signal_id("source-a", "123")
    assert first == master_signal_id("source-a", "123")
    assert len(first) == 32
    assert int(first, 16) >= 0
    assert first != master_signal_id("source-b", "123")
    assert first != master_signal_id("source-a", "124")
    assert master_dedupe_key("123") == "trade:123"


def follower_plan(
    signal: SignalParams,
    position: Position | None,
    *,
    equity: str = "1000",
    multiplier: str = "1",
    risk: EffectiveRisk = CAP,
) -> list[PlannedLeg]:
    return plan_account_orders(
        action=signal.action,
        position=position,
        paused=False,
        equity=Decimal(equity),
        mark_price=PRICE,
        rules=BTC,
        risk=risk,
        mirrored=signal.mirrored,
        multiplier=Decimal(multiplier),
    )


def long(quantity: str) -> Position:
    return Position("BTCUSDT", PositionSide.LONG, Decimal(quantity), PRICE, 5)


def short(quantity: str) -> Position:
    return Position("BTCUSDT", PositionSide.SHORT, Decimal(quantity), PRICE, 5)


def enter(side: OrderSide, quantity: str) -> PlannedLeg:
    return PlannedLeg(OrderLeg.ENTRY, side, Decimal(quantity), reduce_only=False, leverage=5)


def reduce(side: OrderSide, quantity: str) -> PlannedLeg:
    return PlannedLeg(OrderLeg.CLOSE, side, Decimal(quantity), reduce_only=True)


def test_the_follower_copies_the_scenario_proportionally() -> None:
    # open: 1,000 x 0.2 = 200 notional / 40,000 = 0.005
    assert follower_plan(entry(SignalAction.LONG, "0.2", "1"), None) == [
        enter(OrderSide.BUY, "0.005")
    ]
    # add: 1,000 x 0.12 = 120 / 40,000 = 0.003, added to the open long
    assert follower_plan(entry(SignalAction.LONG, "0.12", "2"), long("0.005")) == [
        enter(OrderSide.BUY, "0.003")
    ]
    # partial close: a quarter of 0.008 = 0.002
    assert follower_plan(close("0.25", "3"), long("0.008")) == [reduce(OrderSide.SELL, "0.002")]
    # flip: the whole 0.006 long closed, then 1,000 x 0.16 = 160 / 40,000 = 0.004 short
    assert follower_plan(entry(SignalAction.SHORT, "0.16", "4"), long("0.006")) == [
        reduce(OrderSide.SELL, "0.006"),
        enter(OrderSide.SELL, "0.004"),
    ]
    # full close
    assert follower_plan(close("1", "5"), short("0.004")) == [reduce(OrderSide.BUY, "0.004")]


def test_the_multiplier_scales_entries_and_the_risk_cap_limits_them() -> None:
    # 1,000 x 0.2 x 1.5 = 300 / 40,000 = 0.0075 -> 0.007 (down to the step)
    assert follower_plan(entry(SignalAction.LONG, "0.2", "1"), None, multiplier="1.5") == [
        enter(OrderSide.BUY, "0.007")
    ]
    # 1,000 x 0.2 x 4 = 800, capped at 1,000 x 10 % x 5 = 500 / 40,000 = 0.0125 -> 0.012
    assert follower_plan(entry(SignalAction.LONG, "0.2", "1"), None, multiplier="4") == [
        enter(OrderSide.BUY, "0.012")
    ]


def test_a_partial_close_too_small_for_the_market_is_skipped_with_the_reason() -> None:
    # a quarter of 0.003 = 0.00075 -> 0.000 < 0.001
    (leg,) = follower_plan(close("0.25", "3"), long("0.003"))
    assert leg.skip_reason == "0.25 of the position is below the minimum quantity 0.001"
    assert leg.quantity == 0


def test_a_close_with_nothing_open_is_skipped_and_a_webhook_long_still_is_not_added() -> None:
    (leg,) = follower_plan(close("0.25", "3"), None)
    assert leg.skip_reason == "no open position to close"
    webhook = SignalParams("BTCUSDT", SignalAction.LONG)
    (skipped,) = follower_plan(webhook, long("0.005"))
    assert skipped.skip_reason == "a long position is already open"


def test_the_cursor_takes_fills_after_it_and_those_at_its_time_not_yet_copied() -> None:
    cursor = MasterCursor("BTCUSDT", AT, frozenset({"5"}), Decimal("0.05"))
    later = MasterFill("7", "BTCUSDT", OrderSide.BUY, Decimal(1), PRICE, AT + timedelta(seconds=1))
    assert cursor.is_new(fill("6", OrderSide.BUY, "1"))  # same millisecond, not copied yet
    assert not cursor.is_new(fill("5", OrderSide.BUY, "1"))
    assert not cursor.is_new(replace(later, executed_at=AT - timedelta(seconds=1)))
    assert cursor.is_new(later)
    same_time = cursor.after(fill("6", OrderSide.BUY, "1"), Decimal("1.05"))
    assert same_time == MasterCursor("BTCUSDT", AT, frozenset({"5", "6"}), Decimal("1.05"))
    moved_on = same_time.after(later, Decimal("2.05"))
    assert moved_on == MasterCursor("BTCUSDT", later.executed_at, frozenset({"7"}), Decimal("2.05"))


def test_fills_are_copied_oldest_first_and_by_numeric_trade_id_within_a_millisecond() -> None:
    fills = [
        fill("10", OrderSide.BUY, "1"),
        replace(fill("3", OrderSide.BUY, "1"), executed_at=AT + timedelta(milliseconds=1)),
        fill("9", OrderSide.BUY, "1"),
    ]
    assert [f.trade_id for f in in_copy_order(fills)] == ["9", "10", "3"]


@pytest.mark.parametrize(
    ("can_trade", "can_withdraw", "checked", "warning"),
    [
        (False, False, True, None),
        (True, False, True, "the key can trade: Mimic only reads with it, use a read-only key"),
        (
            True,
            True,
            True,
            "the key can trade and withdraw: Mimic only reads with it, use a read-only key",
        ),
        (False, True, True, "the key can withdraw: Mimic only reads with it, use a read-only key"),
        (
            None,
            None,
            False,
            "the key's permissions could not be checked: make sure it is read-only",
        ),
    ],
)
def test_a_master_key_that_can_more_than_read_is_warned_of(
    can_trade: bool | None, can_withdraw: bool | None, checked: bool, warning: str | None
) -> None:
    assert (
        permission_warning(can_trade=can_trade, can_withdraw=can_withdraw, checked=checked)
        == warning
    )


def test_a_master_account_in_hedge_mode_is_warned_of_too() -> None:
    assert permission_warning(
        can_trade=True, can_withdraw=False, checked=True, hedge_mode=True
    ) == (
        "the key can trade: Mimic only reads with it, use a read-only key; "
        "the account is in hedge mode: only one-way mode is copied correctly"
    )
