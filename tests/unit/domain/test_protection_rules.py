"""TP/SL prices, trailing stop and DCA rules, with numbers checked by hand."""

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mimic.domain.dca import DcaAdd, DcaHistory, DcaParams, DcaSkip, average_entry, plan_dca
from mimic.domain.errors import InvalidField
from mimic.domain.positions import Position, PositionSide
from mimic.domain.protection import (
    DcaSettings,
    ProtectionSettings,
    ProtectivePrices,
    TrailingSettings,
    check_protective_prices,
    protective_prefix,
    protective_prices,
    validate_protection,
)
from mimic.domain.trailing import TrailingParams, TrailingState
from tests.fakes.market_rules import rules_for
from tests.paths import XRP_CANDLES

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT


# TP / SL prices


def test_long_stop_rounds_up_and_take_profit_rounds_down_to_the_tick() -> None:
    # 100.05 x 0.99 = 99.0495 -> 99.1 (closer to the entry); 100.05 x 1.02 = 102.051 -> 102.0
    prices = protective_prices(LONG, D("100.05"), tp_perc=D(2), sl_perc=D(1), tick_size=D("0.1"))
    assert prices == ProtectivePrices(stop_loss=D("99.1"), take_profit=D("102.0"))


def test_short_prices_are_mirrored_and_round_towards_the_entry() -> None:
    # 100.05 x 1.01 = 101.0505 -> 101.0; 100.05 x 0.98 = 98.049 -> 98.1
    prices = protective_prices(SHORT, D("100.05"), tp_perc=D(2), sl_perc=D(1), tick_size=D("0.1"))
    assert prices == ProtectivePrices(stop_loss=D("101.0"), take_profit=D("98.1"))


def test_only_the_legs_asked_for_are_computed() -> None:
    prices = protective_prices(LONG, D("0.5"), tp_perc=None, sl_perc=D(10), tick_size=D("0.0001"))
    assert prices == ProtectivePrices(stop_loss=D("0.4500"), take_profit=None)
    assert protective_prices(LONG, D(1), tp_perc=None, sl_perc=None, tick_size=D("0.1")).empty


@pytest.mark.parametrize(
    ("side", "tp", "sl", "field"),
    [
        (LONG, None, D(100), "sl_perc"),  # a long's stop at 0
        (SHORT, D(100), None, "tp_perc"),  # a short's take-profit at 0
        (LONG, D(-1), None, "tp_perc"),
        (LONG, None, D("0.001"), "sl_perc"),  # rounds back onto the entry
    ],
)
def test_percentages_that_leave_no_price_name_the_field(
    side: PositionSide, tp: Decimal | None, sl: Decimal | None, field: str
) -> None:
    with pytest.raises(InvalidField) as raised:
        protective_prices(side, D(100), tp_perc=tp, sl_perc=sl, tick_size=D("0.1"))
    assert raised.value.field == field


def test_prices_on_the_wrong_side_of_the_mark_are_refused() -> None:
    good = ProtectivePrices(stop_loss=D(99), take_profit=D(102))
    check_protective_prices(LONG, D(100), good)
    with pytest.raises(InvalidField) as raised:
        check_protective_prices(LONG, D("98.5"), good)  # already below the stop
    assert raised.value.field == "stop_loss"
    with pytest.raises(InvalidField) as raised:
        check_protective_prices(SHORT, D(100), good)  # a short's stop must be above
    assert raised.value.field == "stop_loss"
    with pytest.raises(InvalidField) as raised:
        check_protective_prices(SHORT, D("101"), ProtectivePrices(None, D(102)))
    assert raised.value.field == "take_profit"


def test_protective_prefix_is_deterministic_short_enough_and_new_per_revision() -> None:
    first = protective_prefix("mimic-abc")
    assert first == protective_prefix("mimic-abc")
    assert len(first + "sl") <= 36
    assert protective_prefix("mimic-abc", 1) != first
    assert protective_prefix("mimic-abd") != first


# settings


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        (ProtectionSettings(tp_perc=D(0)), "tp_perc"),
        (ProtectionSettings(sl_perc=D(100)), "sl_perc"),
        (
            ProtectionSettings(trailing=TrailingSettings(True, D(1), D(2))),
            "trailing.callback_perc",
        ),
        (
            ProtectionSettings(trailing=TrailingSettings(True, None, D(1))),
            "trailing.activation_perc",
        ),
        (ProtectionSettings(dca=DcaSettings(size_multiplier=D(-1))), "dca.size_multiplier"),
        (ProtectionSettings(dca=DcaSettings(max_adds=11)), "dca.max_adds"),
        (ProtectionSettings(dca=DcaSettings(spacing_perc=D(-1))), "dca.spacing_perc"),
        (ProtectionSettings(dca=DcaSettings(enabled=True)), "dca.trigger_drawdown_perc"),
    ],
)
def test_bad_settings_name_the_field(settings: ProtectionSettings, field: str) -> None:
    with pytest.raises(InvalidField) as raised:
        validate_protection(settings)
    assert raised.value.field == field


def test_complete_settings_are_accepted() -> None:
    validate_protection(
        ProtectionSettings(
            tp_perc=D(3),
            sl_perc=D("1.5"),
            trailing=TrailingSettings(True, D(2), D("0.5")),
            dca=DcaSettings(True, D(5), D("1.5"), 3, D(2), 60),
        )
    )


# trailing stop


def walk(state: TrailingState, params: TrailingParams, prices: list[str]) -> list[TrailingState]:
    states = []
    for price in prices:
        state = state.advance(D(price), params)
        states.append(state)
    return states


def test_long_trailing_stop_activates_ratchets_up_and_hits() -> None:
    params = TrailingParams(activation_perc=D(2), callback_perc=D(1))
    states = walk(
        TrailingState(LONG, D(100)), params, ["101", "102", "105", "104", "106", "104.94"]
    )
    assert [s.stop_price for s in states] == [
        None,  # 101 < activation at 102
        D("100.98"),  # 102 x 0.99
        D("103.95"),  # 105 x 0.99
        D("103.95"),  # 104: the stop never moves down
        D("104.94"),  # 106 x 0.99
        D("104.94"),
    ]
    assert [s.hit for s in states] == [False] * 5 + [True]
    assert states[-1].hit_price == D("104.94")
    assert states[-1].advance(D(200), params) == states[-1]  # a hit stays hit


def test_short_trailing_stop_is_mirrored() -> None:
    params = TrailingParams(activation_perc=D(2), callback_perc=D(1))
    states = walk(TrailingState(SHORT, D(100)), params, ["99", "98", "95", "95.9", "95.95"])
    assert [s.stop_price for s in states] == [None, D("98.98"), D("95.95"), D("95.95"), D("95.95")]
    assert [s.hit for s in states] == [False, False, False, False, True]


def test_a_dca_add_moves_the_activation_of_an_inactive_stop_only() -> None:
    params = TrailingParams(activation_perc=D(2), callback_perc=D(1))
    state = TrailingState(LONG, D(100)).with_entry(D(97))
    assert state.activation_price(params) == D("98.94")
    active = state.advance(D(99), params)
    assert active.with_entry(D(90)) == active


def test_trailing_params_refuse_a_callback_as_large_as_the_activation() -> None:
    with pytest.raises(InvalidField) as raised:
        TrailingParams(activation_perc=D(1), callback_perc=D(1))
    assert raised.value.field == "trailing.callback_perc"


def candle_path(row: dict[str, str]) -> list[Decimal]:
    """Prices within a 5-minute candle: open, the nearer extreme first, then close."""
    o, h, low, c = (D(row[k]) for k in ("open", "high", "low", "close"))
    return [o, low, h, c] if c >= o else [o, h, low, c]


def test_real_xrp_candles_through_a_long_trailing_stop() -> None:
    rows = list(csv.DictReader(XRP_CANDLES.open()))
    params = TrailingParams(activation_perc=D(1), callback_perc=D("0.5"))
    entry = D(rows[0]["close"])
    state = TrailingState(LONG, entry)
    stops: list[Decimal] = []
    seen_since_activation: list[Decimal] = []
    for row in rows[1:]:
        for price in candle_path(row):
            state = state.advance(price, params)
            if state.hit:
                break
            if state.active:
                seen_since_activation.append(price)
                assert state.stop_price is not None
                stops.append(state.stop_price)
                # the stop is always callback% below the best price seen since activation
                assert state.stop_price == max(seen_since_activation) * D("0.995")
        if state.hit:
            break
    assert state.hit, "XRP rose 1% above the first close and fell back on 2021-11-15"
    assert stops == sorted(stops), "the stop only ever moved up"
    assert state.hit_price is not None
    assert state.stop_price is not None
    assert state.hit_price <= state.stop_price
    # the stop locks in at least activation then callback: 1.01 x 0.995 > 1
    assert state.stop_price >= entry * D("1.01") * D("0.995") > entry


# DCA


def dca_position(quantity: str, entry: str) -> Position:
    return Position("BTCUSDT", LONG, D(quantity), D(entry), leverage=10)


NOW = datetime(2026, 1, 1, tzinfo=UTC)
PARAMS = DcaParams(
    trigger_drawdown_perc=D(5), size_multiplier=D("1.5"), max_adds=2, spacing_perc=D(3)
)


def plan(
    position: Position,
    mark: str,
    history: DcaHistory,
    *,
    available: str = "100000",
    risk_cap: str = "10",
    params: DcaParams = PARAMS,
    now: datetime = NOW,
) -> DcaAdd | DcaSkip | None:
    return plan_dca(
        position=position,
        mark_price=D(mark),
        params=params,
        history=history,
        now=now,
        rules=rules_for("BTCUSDT"),
        available_margin=D(available),
        equity=D(10000),
        risk_cap_perc=D(risk_cap),
    )


def test_dca_adds_at_the_trigger_and_recomputes_the_average() -> None:
    history = DcaHistory(entry_quantity=D(10))
    assert plan(dca_position("10", "100"), "96", history) is None  # 4% < 5%
    first = plan(dca_position("10", "100"), "95", history)
    assert first == DcaAdd(number=1, quantity=D("15.000"))  # 10 x 1.5
    # (10 x 100 + 15 x 95) / 25 = 97
    assert average_entry(D(10), D(100), D(15), D(95)) == D(97)
    after_first = DcaHistory(D(10), adds=1, last_add_price=D(95), last_add_at=NOW)
    # 93 is 4.1% under the new average 97: not yet
    assert plan(dca_position("25", "97"), "93", after_first) is None
    # 92: 5.2% under 97 and 3.2% under the last add at 95 -> add 2 of 10 x 1.5^2 = 22.5
    second = plan(dca_position("25", "97"), "92", after_first)
    assert second == DcaAdd(number=2, quantity=D("22.500"))
    # (25 x 97 + 22.5 x 92) / 47.5 = 4495 / 47.5 = 94.6315...
    assert average_entry(D(25), D(97), D("22.5"), D(92)).quantize(D("0.0001")) == D("94.6316")
    done = DcaHistory(D(10), adds=2, last_add_price=D(92), last_add_at=NOW)
    assert plan(dca_position("47.5", "94.63"), "50", done) is None  # max_adds reached


def test_dca_spacing_by_price_and_time() -> None:
    timed = DcaParams(D(5), D(1), 3, spacing_perc=D(0), spacing=timedelta(minutes=5))
    history = DcaHistory(D(10), adds=1, last_add_price=D(95), last_add_at=NOW)
    position = dca_position("20", "97.5")
    assert plan(position, "90", history, params=timed, now=NOW + timedelta(minutes=4)) is None
    later = plan(position, "90", history, params=timed, now=NOW + timedelta(minutes=5))
    assert later == DcaAdd(2, D("10.000"))
    # price spacing: 3% under the last add at 95 is 92.15; 92.2 is not enough
    assert plan(position, "92.2", history) is None


def test_dca_respects_available_margin_and_the_risk_cap() -> None:
    history = DcaHistory(entry_quantity=D(10))
    # add 1: 15 x 95 / 10 = 142.50 USDT margin
    skipped = plan(dca_position("10", "100"), "95", history, available="142")
    assert isinstance(skipped, DcaSkip)
    assert "142.50 USDT margin" in skipped.reason
    # position margin after it: (1000 + 1425) / 10 = 242.50 > 2% of 10000
    capped = plan(dca_position("10", "100"), "95", history, risk_cap="2")
    assert isinstance(capped, DcaSkip)
    assert "242.50" in capped.reason
    assert plan(dca_position("10", "100"), "95", history, risk_cap="2.5") == DcaAdd(1, D("15.000"))
