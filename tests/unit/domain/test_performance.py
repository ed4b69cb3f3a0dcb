"""Closed trades from fills, ROI, win rate and max drawdown, checked by hand."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from mimic.domain.errors import InvalidField
from mimic.domain.orders import OrderSide
from mimic.domain.performance import (
    AccountFill,
    TradeFilters,
    closed_trades,
    hour_of,
    max_drawdown_perc,
    roi_perc,
    standing,
    win_rate_perc,
)
from mimic.domain.positions import PositionSide

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def fill(
    n: int,
    side: OrderSide,
    qty: str,
    price: str,
    fee: str,
    pnl: str | None = "0",
    source_id: str | None = None,
) -> AccountFill:
    return AccountFill(
        fill_id=f"f{n}",
        symbol="BTCUSDT",
        side=side,
        quantity=D(qty),
        price=D(price),
        fee=D(fee),
        realized_pnl=None if pnl is None else D(pnl),
        executed_at=T0 + timedelta(minutes=n),
        source_id=source_id,
    )


def test_a_long_opened_and_closed_higher() -> None:
    # 0.03 BTC at 65000 (fee 0.04 % of 1950 = 0.78), closed at 66000 (fee 0.792), +30.
    [trade] = closed_trades(
        "a1", [fill(1, BUY, "0.03", "65000", "0.78"), fill(2, SELL, "0.03", "66000", "0.792", "30")]
    )
    assert (trade.side, trade.quantity, trade.entry_price, trade.exit_price) == (
        PositionSide.LONG,
        D("0.03"),
        D(65000),
        D(66000),
    )
    assert (trade.realized_pnl, trade.fees, trade.net_pnl) == (D(30), D("1.572"), D("28.428"))
    # 28.428 / 1950 x 100 = 1.4578461538...
    assert trade.roi_perc.quantize(D("0.0001")) == D("1.4578")
    assert (trade.opened_at, trade.closed_at) == (
        T0 + timedelta(minutes=1),
        T0 + timedelta(2 / 1440),
    )


def test_adds_and_partial_closes_average_entry_and_exit() -> None:
    fills = [
        fill(1, BUY, "1", "10", "0"),
        fill(2, BUY, "1", "20", "0"),  # entry (10 + 20) / 2 = 15
        fill(3, SELL, "1", "30", "0", "15"),
        fill(4, SELL, "1", "40", "0", "25"),  # exit (30 + 40) / 2 = 35
    ]
    [trade] = closed_trades("a1", fills)
    assert (trade.quantity, trade.entry_price, trade.exit_price, trade.realized_pnl) == (
        D(2),
        D(15),
        D(35),
        D(40),
    )


def test_a_flip_closes_one_trade_and_opens_the_next_splitting_the_fee() -> None:
    fills = [
        fill(1, SELL, "0.01", "100", "0.0004"),
        # Buys 0.03 at 90: 0.01 closes the short (+0.1), 0.02 opens a long; fee split 1:2.
        fill(2, BUY, "0.03", "90", "0.00108", "0.1"),
        fill(3, SELL, "0.02", "95", "0.00076", "0.1"),
    ]
    short, long = closed_trades("a1", fills)
    assert (short.side, short.quantity, short.entry_price, short.exit_price) == (
        PositionSide.SHORT,
        D("0.01"),
        D(100),
        D(90),
    )
    assert (short.realized_pnl, short.fees) == (D("0.1"), D("0.00076"))  # 0.0004 + 0.00036
    assert (long.side, long.quantity, long.entry_price, long.exit_price) == (
        PositionSide.LONG,
        D("0.02"),
        D(90),
        D(95),
    )
    assert (long.realized_pnl, long.fees) == (D("0.1"), D("0.00148"))  # 0.00072 + 0.00076


def test_realized_pnl_is_worked_out_when_the_exchange_does_not_report_it() -> None:
    fills = [fill(1, SELL, "2", "12", "0", None), fill(2, BUY, "2", "10", "0", None)]
    [trade] = closed_trades("a1", fills)
    assert trade.realized_pnl == D(4)  # a short from 12 to 10, 2 units


def test_open_positions_and_closes_of_unseen_entries_are_no_trades() -> None:
    fills = [
        fill(1, SELL, "1", "50", "0", "5"),  # closes something opened before the history
        fill(2, BUY, "1", "60", "0"),  # still open
    ]
    assert closed_trades("a1", fills) == []


def test_roi_win_rate_and_max_drawdown() -> None:
    assert roi_perc(D(25), D(1000)) == D("2.5")
    assert roi_perc(D(25), D(0)) == D(0)
    # peak 120, then 60: (120 - 60) / 120 = 50 %; the later 130 does not undo it.
    assert max_drawdown_perc([D(100), D(120), D(90), D(110), D(60), D(130)]) == D(50)
    assert max_drawdown_perc([D(1), D(2), D(3)]) == D(0)
    assert max_drawdown_perc([]) == D(0)
    fills = [
        fill(1, BUY, "1", "10", "0"),
        fill(2, SELL, "1", "12", "0", "2"),  # +2
        fill(3, BUY, "1", "10", "0"),
        fill(4, SELL, "1", "9", "0", "-1"),  # -1
        fill(5, BUY, "1", "10", "0"),
        fill(6, SELL, "1", "11", "0", "1"),  # +1
    ]
    trades = closed_trades("a1", fills)
    assert win_rate_perc(trades) * 3 == D(200)  # 2 wins of 3
    line = standing("alice", trades, [D(1000), D(1010), D(990), D(1002)])
    # PnL 2 - 1 + 1 = 2 over a start of 1000: 0.2 %; drawdown (1010 - 990) / 1010.
    assert (line.pnl, line.roi_perc, line.trades) == (D(2), D("0.2"), 3)
    assert line.max_drawdown_perc == D(20) / D(1010) * 100


def test_hour_of_truncates_to_the_hour() -> None:
    assert hour_of(datetime(2024, 5, 1, 13, 59, 59, 999, tzinfo=UTC)) == datetime(
        2024, 5, 1, 13, tzinfo=UTC
    )


def test_trade_filters_pick_a_symbol_and_a_side() -> None:
    [long] = closed_trades(
        "a1", [fill(1, BUY, "0.03", "65000", "0"), fill(2, SELL, "0.03", "66000", "0")]
    )
    assert TradeFilters.parse("btc/usdt", "long").admits(long)
    assert TradeFilters.parse(None, None).admits(long)
    assert not TradeFilters.parse(None, "short").admits(long)
    assert not TradeFilters.parse("ETHUSDT", None).admits(long)
    with pytest.raises(InvalidField) as refused:
        TradeFilters.parse(None, "sideways")
    assert refused.value.field == "side"


def test_a_trade_takes_the_source_of_its_opening_fill() -> None:
    # Opened by source "s1", added to by hand, reversed by "s2": the flip closes s1's trade
    # and opens s2's; a trade opened by hand has no source.
    fills = [
        fill(1, BUY, "0.01", "65000", "0", source_id="s1"),
        fill(2, BUY, "0.01", "65000", "0"),
        fill(3, SELL, "0.03", "66000", "0", source_id="s2"),
        fill(4, BUY, "0.01", "65500", "0"),
        fill(5, BUY, "0.02", "65000", "0"),
        fill(6, SELL, "0.02", "65100", "0", source_id="s1"),
    ]
    trades = closed_trades("a1", fills)
    assert [(t.side, t.source_id) for t in trades] == [
        (PositionSide.LONG, "s1"),
        (PositionSide.SHORT, "s2"),
        (PositionSide.LONG, None),
    ]
    assert TradeFilters.parse(None, None, "s2").admits(trades[1])
    assert not TradeFilters.parse(None, None, "s1").admits(trades[1])
    assert not TradeFilters.parse(None, None, "s1").admits(trades[2])
    assert TradeFilters.parse(None, None, "").admits(trades[2])  # an empty choice: every source
