"""The strategy lab's engine, with numbers worked out by hand.

XRPUSDT's real rules (step 0.1, tick 0.0001, min notional 5 USDT); 5-minute candles from
2024-05-01 00:00 UTC; no fee or slippage unless a test says so.
"""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from mimic.adapters.lab.inputs import read_candles
from mimic.adapters.paper.rules import paper_listings
from mimic.domain.alerts import read_alert
from mimic.domain.guardrails import GuardrailSettings
from mimic.domain.lab import engine
from mimic.domain.lab.accounts import LabFollower, LabMarket, ReplayResult, reason_kind
from mimic.domain.lab.book import Costs, FillKind
from mimic.domain.lab.candles import Candle, CandleSeries
from mimic.domain.lab.engine import replay
from mimic.domain.lab.report import summarize
from mimic.domain.lab.timeline import Alert
from mimic.domain.protection import DcaSettings, ProtectionSettings, TrailingSettings
from mimic.domain.risk import FollowerRiskSettings, PlatformRiskSettings
from tests.paths import XRP_CANDLES

T0 = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp() * 1000)
STEP = 300_000
FLAT = ("1", "1", "1", "1")
NO_COSTS = Costs(fee_bps=D(0))
# 10 % of 1000 USDT at 2x: 200 USDT of XRP, 200.0 at a price of 1.
TWO_HUNDRED = FollowerRiskSettings(risk_perc=D(10), leverage=2)


def candles(*ohlc: tuple[str, str, str, str], flat_after: int = 0) -> list[Candle]:
    rows = [*ohlc, *([FLAT] * flat_after)]
    return [Candle(T0 + i * STEP, *(D(x) for x in row)) for i, row in enumerate(rows)]


def alert(index: int, **values: object) -> Alert:
    return Alert(T0 + index * STEP, read_alert({"symbol": "XRPUSDT", **values}))


def run(
    rows: list[Candle],
    alerts: list[Alert],
    *followers: LabFollower,
    costs: Costs = NO_COSTS,
) -> ReplayResult:
    market = LabMarket(
        {"XRPUSDT": CandleSeries("XRPUSDT", rows)},
        {"XRPUSDT": paper_listings()["XRPUSDT"].rules},
    )
    return replay(market, alerts, followers, platform=PlatformRiskSettings(), costs=costs)


def follower(**protection: object) -> LabFollower:
    return LabFollower("f", D(1000), TWO_HUNDRED, ProtectionSettings(**protection))  # type: ignore[arg-type]


def fills(result: ReplayResult) -> list[tuple[str, str, D, D]]:
    return [
        (f.kind.value, f.side.value, f.quantity, f.price) for f in result.followers[0].book.fills
    ]


def test_a_long_closes_at_its_take_profit() -> None:
    rows = candles(FLAT, ("1", "1.03", "0.995", "1.01"), flat_after=2)
    result = run(rows, [alert(0, action="long", tp_perc=2)], follower())
    # Entry at the open 1, 200.0 XRP; TP = 1 x 1.02 = 1.02, reached by the high 1.03.
    assert fills(result) == [
        ("entry", "buy", D("200.0"), D(1)),
        ("take_profit", "sell", D("200.0"), D("1.02")),
    ]
    summary = summarize(result.followers[0])
    assert (summary.trades, summary.net_pnl, summary.final_equity) == (1, D("4.00"), D("1004.00"))
    assert summary.win_rate_perc == D("100.00")
    # The master at face value: 1 % of 10,000 at 5x = 500 XRP, + 0.02 x 500.
    assert summarize(result.master).net_pnl == D("10.00")


def test_a_long_stops_out_and_a_stop_and_target_in_one_candle_count_as_the_stop() -> None:
    rows = candles(FLAT, ("1", "1.03", "0.98", "1"), flat_after=2)
    result = run(rows, [alert(0, action="long", tp_perc=2, sl_perc=1)], follower())
    # SL = 0.99 (1 % below 1): the low comes before the high for a long.
    assert fills(result)[1] == ("stop_loss", "sell", D("200.0"), D("0.99"))
    summary = summarize(result.followers[0])
    assert (summary.net_pnl, summary.win_rate_perc) == (D("-2.00"), D("0.00"))


def test_a_short_sees_its_high_first() -> None:
    rows = candles(FLAT, ("1", "1.02", "0.97", "1"), flat_after=2)
    result = run(rows, [alert(0, action="short", tp_perc=2, sl_perc=1)], follower())
    assert fills(result)[1] == ("stop_loss", "buy", D("200.0"), D("1.01"))


def test_a_candle_opening_beyond_the_stop_fills_at_its_open() -> None:
    rows = candles(FLAT, ("0.97", "0.98", "0.96", "0.97"), flat_after=2)
    result = run(rows, [alert(0, action="long", sl_perc=1)], follower())
    assert fills(result)[1] == ("stop_loss", "sell", D("200.0"), D("0.97"))
    assert summarize(result.followers[0]).net_pnl == D("-6.00")


def test_the_trailing_stop_follows_the_best_price_and_closes_on_the_callback() -> None:
    trailing = TrailingSettings(enabled=True, activation_perc=D(2), callback_perc=D(1))
    rows = candles(
        FLAT,
        ("1", "1.05", "0.995", "1.045"),  # activates at 1.02; best 1.05: stop 1.0395
        ("1.045", "1.046", "1.03", "1.035"),  # the low goes through the stop first
        flat_after=2,
    )
    result = run(rows, [alert(0, action="long")], follower(trailing=trailing))
    assert fills(result)[1] == ("trailing_stop", "sell", D("200.0"), D("1.0395"))
    assert result.followers[0].book.fills[1].at == datetime(2024, 5, 1, 0, 10, tzinfo=UTC)
    assert summarize(result.followers[0]).net_pnl == D("7.90")


def test_a_dca_add_moves_the_average_entry() -> None:
    dca = DcaSettings(enabled=True, trigger_drawdown_perc=D(2), size_multiplier=D(1), max_adds=1)
    rows = candles(FLAT, ("1", "1", "0.97", "0.975"), ("0.985", "0.99", "0.98", "0.985"))
    result = run(
        rows,
        [alert(0, action="long"), alert(2, action="close")],
        LabFollower(
            "f",
            D(1000),
            FollowerRiskSettings(risk_perc=D(2), leverage=10),
            ProtectionSettings(dca=dca),
        ),
    )
    # 2 % of 1000 at 10x = 200.0 at 1; the add of 200.0 at 0.98 makes the entry 0.99;
    # the close at 0.985 loses 0.005 x 400 = 2 (without the add: 3).
    assert fills(result) == [
        ("entry", "buy", D("200.0"), D(1)),
        ("dca", "buy", D("200.0"), D("0.98")),
        ("close", "sell", D("400.0"), D("0.985")),
    ]
    assert summarize(result.followers[0]).net_pnl == D("-2.00")


def test_the_daily_drawdown_stop_blocks_entries_until_the_next_utc_day() -> None:
    day = 288  # 5-minute candles per day
    rows = candles(
        FLAT, ("1", "1", "0.95", "0.95"), ("0.95", "0.95", "0.95", "0.95"), flat_after=day
    )
    stop_1 = LabFollower("f", D(1000), TWO_HUNDRED, guardrails=GuardrailSettings(D(1)))
    result = run(
        rows,
        [
            alert(0, action="long"),  # 200.0 at 1
            alert(2, action="close"),  # at 0.95: -10, equity 990 = 1 % below the day's 1000
            alert(3, action="long"),  # same day: refused
            alert(day, action="long"),  # 00:00 the next day: a new day starts at 990
        ],
        stop_1,
    )
    assert [f[0] for f in fills(result)] == ["entry", "close", "entry"]
    assert result.followers[0].book.fills[2].at == datetime(2024, 5, 2, tzinfo=UTC)
    assert result.followers[0].skipped == {"daily drawdown stop": 1}


def test_an_entry_below_the_min_notional_is_skipped_and_counted() -> None:
    rows = candles(FLAT, flat_after=3)
    tiny = LabFollower("tiny", D(20))  # 1 % of 20 at 5x = 1 USDT < 5 USDT
    result = run(rows, [alert(0, action="long"), alert(2, action="close")], tiny)
    assert result.followers[0].book.fills == []
    assert dict(result.followers[0].skipped) == {
        "below min notional": 1,
        "no open position to close": 1,
    }
    assert summarize(result.followers[0]).trades == 0


def test_fees_and_slippage_are_charged_on_each_fill() -> None:
    rows = candles(FLAT, FLAT, ("1.02", "1.02", "1.02", "1.02"), flat_after=1)
    result = run(
        rows,
        [alert(0, action="long"), alert(2, action="close")],
        follower(),
        costs=Costs(fee_bps=D(4), slippage_bps=D(10)),
    )
    entry, close = result.followers[0].book.fills
    # Bought at 1 x 1.001, fee 200 x 1.001 x 0.0004; sold at 1.02 x 0.999 = 1.01898.
    assert (entry.price, entry.fee) == (D("1.001"), D("0.08008"))
    assert (close.price, close.fee) == (D("1.01898"), D("0.08151840"))
    assert close.realized_pnl == D("3.596")
    assert result.followers[0].final_equity == D("1003.43440160")


def test_a_reversal_closes_then_opens_the_other_side() -> None:
    rows = candles(FLAT, ("1", "1.1", "1", "1.1"), ("1.1", "1.1", "1.1", "1.1"), flat_after=1)
    result = run(rows, [alert(0, action="long"), alert(2, action="short")], follower())
    assert [(k, s) for k, s, _, _ in fills(result)] == [
        ("entry", "buy"),
        ("close", "sell"),
        ("entry", "sell"),
    ]
    assert result.followers[0].book.trips[0].exit is FillKind.CLOSE


def test_skip_reasons_are_counted_without_their_numbers() -> None:
    assert reason_kind("below min notional: 1.0000 < 5 USDT (margin 0.20 x leverage 5)") == (
        "below min notional"
    )
    assert reason_kind("a long position is already open") == "a long position is already open"


def _mixed_followers() -> list[LabFollower]:
    trailing = TrailingSettings(enabled=True, activation_perc=D("0.8"), callback_perc=D("0.3"))
    dca = DcaSettings(
        enabled=True,
        trigger_drawdown_perc=D("0.7"),
        size_multiplier=D("1.5"),
        max_adds=3,
        spacing_perc=D("0.3"),
        spacing_seconds=900,
    )
    risk = FollowerRiskSettings(risk_perc=D(2), leverage=10)
    return [
        LabFollower("plain", D(1000)),
        LabFollower("tp_sl", D(1000), risk, ProtectionSettings(tp_perc=D(1), sl_perc=D("0.6"))),
        LabFollower("trailing", D(1000), risk, ProtectionSettings(trailing=trailing)),
        LabFollower("dca", D(1000), risk, ProtectionSettings(sl_perc=D(3), dca=dca)),
        LabFollower(
            "all", D(5000), risk, ProtectionSettings(tp_perc=D(2), trailing=trailing, dca=dca)
        ),
        LabFollower("guarded", D(1000), risk, guardrails=GuardrailSettings(D(1), True, D(2))),
    ]


def test_following_trigger_crossings_equals_walking_every_candle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine jumps from one trigger crossing to the next; walking every candle instead
    (the search replaced by "the next candle") must give the very same fills."""
    data = XRP_CANDLES
    rows = read_candles(data.read_bytes(), data.name)["XRPUSDT"].candles
    actions = ["long", "short", "close", "long", "long", "short", "close", "short"]
    alerts = [
        alert(index, action=actions[n % len(actions)], id=str(n))
        for n, index in enumerate(range(3, len(rows) - 10, 97))
    ]
    # alert() counts 5-minute steps from T0: give the real candles those times.
    rows = [replace(c, open_time=T0 + i * STEP) for i, c in enumerate(rows)]
    jumping = run(rows, alerts, *_mixed_followers(), costs=Costs())

    def every_candle(_: object, series: CandleSeries, start: int, __: object) -> int | None:
        return start if start < len(series) else None

    monkeypatch.setattr(engine, "next_hit", every_candle)
    walking = run(rows, alerts, *_mixed_followers(), costs=Costs())
    for fast, slow in zip(jumping.followers, walking.followers, strict=True):
        assert fast.book.fills == slow.book.fills, fast.name
        assert fast.equity == slow.equity
    kinds = {f.kind for account in jumping.followers for f in account.book.fills}
    assert kinds >= {
        FillKind.ENTRY,
        FillKind.CLOSE,
        FillKind.TAKE_PROFIT,
        FillKind.STOP_LOSS,
        FillKind.TRAILING_STOP,
        FillKind.DCA,
    }


def test_several_symbols_share_one_account() -> None:
    xrp = candles(FLAT, FLAT, ("1.1", "1.1", "1.1", "1.1"), ("1.1", "1.1", "1.1", "1.1"))
    doge = [
        replace(c, open=c.open / 10, high=c.high / 10, low=c.low / 10, close=c.close / 10)
        for c in candles(FLAT, FLAT, ("0.9", "0.9", "0.9", "0.9"), ("0.9", "0.9", "0.9", "0.9"))
    ]
    listings = paper_listings()
    market = LabMarket(
        {"XRPUSDT": CandleSeries("XRPUSDT", xrp), "DOGEUSDT": CandleSeries("DOGEUSDT", doge)},
        {s: listings[s].rules for s in ("XRPUSDT", "DOGEUSDT")},
    )
    alerts = [
        alert(0, action="long"),
        Alert(T0, read_alert({"symbol": "DOGEUSDT", "action": "long"})),
        Alert(T0 + 2 * STEP, read_alert({"symbol": "DOGEUSDT", "action": "close"})),
    ]
    result = replay(
        market,
        alerts,
        [LabFollower("f", D(1000), TWO_HUNDRED)],
        platform=PlatformRiskSettings(),
        costs=NO_COSTS,
    )
    book = result.followers[0].book
    # 200 USDT each: 200.0 XRP at 1 and 2000 DOGE at 0.1; DOGE closed at 0.09 (-20), XRP
    # still open at 1.1 (+20 unrealized).
    assert [(f.symbol, f.quantity) for f in book.fills] == [
        ("XRPUSDT", D("200.0")),
        ("DOGEUSDT", D(2000)),
        ("DOGEUSDT", D(2000)),
    ]
    assert (book.wallet, result.followers[0].final_equity) == (D(980), D(1000))


def test_an_alert_without_a_candle_near_it_is_skipped() -> None:
    rows = candles(FLAT, FLAT)
    early = Alert(T0 - 2 * STEP, read_alert({"symbol": "XRPUSDT", "action": "long"}))
    late = alert(5, action="long")  # after the last candle
    result = run(rows, [early, late, alert(1, action="long")], follower())
    assert [f.at for f in result.followers[0].book.fills] == [
        datetime(2024, 5, 1, 0, 5, tzinfo=UTC)
    ]
    assert result.followers[0].skipped == {
        "no candle within one candle interval after the alert": 2
    }
