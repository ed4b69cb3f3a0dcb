"""Sizing and planning against the real Binance USD-M rules the paper exchange uses.

Rules (MARKET_LOT_SIZE / MIN_NOTIONAL from exchangeinfo.json):
BTCUSDT and ETHUSDT step 0.001, min 0.001; BTCUSDT max 120; DOGEUSDT and TRXUSDT step 1,
min 1; min notional 5 USDT everywhere.
"""

import re
from decimal import Decimal

import pytest

from mimic.domain.errors import InvalidField
from mimic.domain.market import MarketRules
from mimic.domain.orders import OrderLeg, OrderSide, client_order_id
from mimic.domain.planning import (
    PAUSED_REASON,
    PlannedLeg,
    Sized,
    plan_account_orders,
    size_entry,
    skip_account,
)
from mimic.domain.positions import Position, PositionSide
from mimic.domain.risk import (
    EffectiveRisk,
    FollowerRiskSettings,
    PlatformRiskSettings,
    UserCaps,
    resolve_risk,
    validate_follower_settings,
)
from mimic.domain.signal import SignalAction
from tests.fakes.market_rules import binance_rules, rules_for

BTC = rules_for("BTCUSDT")
ETH = rules_for("ETHUSDT")
DOGE = rules_for("DOGEUSDT")
TRX = rules_for("TRXUSDT")


def D(value: str | int) -> Decimal:
    return Decimal(value)


def test_rules_are_the_real_binance_filters() -> None:
    assert rules_for("BTCUSDT") == MarketRules(
        symbol="BTCUSDT",
        step_size=D("0.001"),
        tick_size=D("0.10"),
        min_qty=D("0.001"),
        max_qty=D(120),
        min_notional=D(5),
    )
    assert (DOGE.step_size, DOGE.min_qty, DOGE.max_qty) == (D(1), D(1), D(30000000))
    assert set(binance_rules()) >= {"BTCUSDT", "ETHUSDT", "DOGEUSDT", "TRXUSDT"}


def sized(
    rules: MarketRules, equity: str | int, risk: str | int, leverage: int, mark: str
) -> Sized | str:
    return size_entry(
        equity=D(equity),
        mark_price=D(mark),
        rules=rules,
        risk=EffectiveRisk(risk_perc=D(risk), leverage=leverage),
    )


@pytest.mark.parametrize(
    ("rules", "equity", "risk", "leverage", "mark", "quantity", "notional"),
    [
        # margin 100, notional 1000; 1000 / 65000 = 0.01538.. -> 0.015; 0.015 x 65000 = 975
        (BTC, 10000, 1, 10, "65000", "0.015", "975"),
        # margin 65, notional 650; 650 / 65000 = 0.01 exactly (kept, written 0.010)
        (BTC, 6500, 1, 10, "65000", "0.010", "650"),
        # 1000 / 62600 = 0.015974.. -> 0.015 (down, never to 0.016); 0.015 x 62600 = 939
        (BTC, 10000, 1, 10, "62600", "0.015", "939"),
        # margin 50, notional 250; 250 / 3500 = 0.071428.. -> 0.071; x 3500 = 248.5
        (ETH, 2500, 2, 5, "3500", "0.071", "248.5"),
        # margin 10, notional 100; 100 / 0.12345 = 810.04.. -> 810; x 0.12345 = 99.9945
        (DOGE, 1000, 1, 10, "0.12345", "810", "99.9945"),
        # margin 15, notional 30; 30 / 0.1123 = 267.14.. -> 267; x 0.1123 = 29.9841
        (TRX, 500, 3, 2, "0.1123", "267", "29.9841"),
        # margin 1, notional 5; 5 / 0.25 = 20 DOGE worth exactly the 5 USDT minimum
        (DOGE, 100, 1, 5, "0.25", "20", "5"),
        # fractional risk: margin 10000 x 0.5 % = 50, x 3 = 150; 150 / 65000 = 0.0023 -> 0.002
        (BTC, 10000, "0.5", 3, "65000", "0.002", "130"),
    ],
)
def test_size_entry_rounds_down_to_the_step(
    rules: MarketRules,
    equity: int,
    risk: int | str,
    leverage: int,
    mark: str,
    quantity: str,
    notional: str,
) -> None:
    result = sized(rules, equity, risk, leverage, mark)
    assert isinstance(result, Sized)
    assert str(result.quantity) == quantity
    assert result.notional == D(notional)


def test_size_entry_below_min_quantity_is_skipped_with_the_reason() -> None:
    # margin 100 x 1 % = 1, notional 5; 5 / 65000 = 0.0000769 -> 0.000 BTC < 0.001
    assert sized(BTC, 100, 1, 5, "65000") == (
        "below minimum quantity: 0.000 < 0.001 BTCUSDT (margin 1.00 x leverage 5)"
    )


def test_size_entry_below_min_notional_is_skipped_with_the_reason() -> None:
    # margin 50 x 1 % = 0.5, notional 2.5; 2.5 / 0.12345 = 20.25 -> 20 DOGE = 2.469 USDT < 5
    assert sized(DOGE, 50, 1, 5, "0.12345") == (
        "below min notional: 2.4690 < 5 USDT (margin 0.50 x leverage 5)"
    )


def test_size_entry_rounding_down_can_fall_below_min_notional() -> None:
    # notional 5.2; 5.2 / 0.27 = 19.26 -> 19 TRX = 5.13 USDT: still fine
    assert isinstance(sized(TRX, 104, 1, 5, "0.27"), Sized)
    # notional 5.2; 5.2 / 0.35 = 14.86 -> 14 TRX = 4.90 USDT < 5: skipped
    result = sized(TRX, 104, 1, 5, "0.35")
    assert isinstance(result, str)
    assert result.startswith("below min notional: 4.9000 < 5 USDT")


def test_size_entry_caps_at_the_market_max_quantity() -> None:
    # margin 10,000,000, x 125 = 1.25e9; / 65000 = 19230.7 BTC -> capped at 120 (MARKET_LOT_SIZE)
    result = sized(BTC, 10_000_000, 100, 125, "65000")
    assert result == Sized(quantity=D("120.000"), notional=D(7_800_000))
    assert str(result.quantity) == "120.000"


@pytest.mark.parametrize("equity", [0, -1, "-0.01"])
def test_size_entry_without_equity(equity: int | str) -> None:
    assert sized(BTC, equity, 1, 10, "65000") == "no equity available on the account"


@pytest.mark.parametrize("mark", ["0", "-1"])
def test_size_entry_without_a_mark_price(mark: str) -> None:
    assert sized(BTC, 10000, 1, 10, mark) == "no valid mark price for BTCUSDT"


# --- risk resolution ---------------------------------------------------------------------

PLATFORM = PlatformRiskSettings(
    default_risk_perc=D(1), default_leverage=5, max_risk_perc=D(10), max_leverage=20
)


def resolve(
    *,
    follower: FollowerRiskSettings | None = None,
    caps: UserCaps | None = None,
    signal_risk: str | None = None,
    signal_leverage: int | None = None,
    market_max: int = 125,
    platform: PlatformRiskSettings = PLATFORM,
) -> tuple[Decimal, int]:
    risk = resolve_risk(
        platform=platform,
        caps=caps or UserCaps(),
        follower=follower or FollowerRiskSettings(),
        signal_risk_perc=None if signal_risk is None else D(signal_risk),
        signal_leverage=signal_leverage,
        market_max_leverage=market_max,
    )
    return risk.risk_perc, risk.leverage


def test_resolve_risk_follower_beats_signal_beats_default() -> None:
    follower = FollowerRiskSettings(risk_perc=D(2), leverage=7)
    assert resolve(follower=follower, signal_risk="3", signal_leverage=4) == (D(2), 7)
    assert resolve(signal_risk="3", signal_leverage=4) == (D(3), 4)
    assert resolve() == (D(1), 5)


def test_resolve_risk_mixes_levels_field_by_field() -> None:
    follower = FollowerRiskSettings(risk_perc=D(2))
    assert resolve(follower=follower, signal_leverage=4) == (D(2), 4)
    assert resolve(follower=FollowerRiskSettings(leverage=9), signal_risk="3") == (D(3), 9)


def test_resolve_risk_applies_the_platform_caps() -> None:
    assert resolve(signal_risk="50", signal_leverage=100) == (D(10), 20)


def test_resolve_risk_applies_the_tighter_per_user_caps() -> None:
    follower = FollowerRiskSettings(risk_perc=D(2), leverage=7)
    caps = UserCaps(max_risk_perc=D("0.5"), max_leverage=3)
    assert resolve(follower=follower, caps=caps) == (D("0.5"), 3)


def test_resolve_risk_user_caps_cannot_lift_the_platform_caps() -> None:
    caps = UserCaps(max_risk_perc=D(50), max_leverage=100)
    assert resolve(signal_risk="40", signal_leverage=90, caps=caps) == (D(10), 20)


def test_resolve_risk_respects_the_market_max_leverage() -> None:
    assert resolve(follower=FollowerRiskSettings(leverage=15), market_max=8) == (D(1), 8)


# --- follower settings and platform settings --------------------------------------------


@pytest.mark.parametrize(
    ("settings", "caps", "field", "message"),
    [
        (
            FollowerRiskSettings(risk_perc=D(0)),
            UserCaps(),
            "risk_perc",
            "must be greater than 0 and at most 100",
        ),
        (
            FollowerRiskSettings(risk_perc=D("NaN")),
            UserCaps(),
            "risk_perc",
            "must be greater than 0 and at most 100",
        ),
        (
            FollowerRiskSettings(risk_perc=D("10.01")),
            UserCaps(),
            "risk_perc",
            "must be at most 10 (the admin's cap)",
        ),
        (
            FollowerRiskSettings(risk_perc=D(6)),
            UserCaps(max_risk_perc=D(5)),
            "risk_perc",
            "must be at most 5 (the admin's cap)",
        ),
        (
            FollowerRiskSettings(leverage=0),
            UserCaps(),
            "leverage",
            "must be a whole number from 1 to 125",
        ),
        (
            FollowerRiskSettings(leverage=126),
            UserCaps(),
            "leverage",
            "must be a whole number from 1 to 125",
        ),
        (
            FollowerRiskSettings(leverage=21),
            UserCaps(),
            "leverage",
            "must be at most 20 (the admin's cap)",
        ),
        (
            FollowerRiskSettings(leverage=4),
            UserCaps(max_leverage=3),
            "leverage",
            "must be at most 3 (the admin's cap)",
        ),
    ],
)
def test_validate_follower_settings_rejections(
    settings: FollowerRiskSettings, caps: UserCaps, field: str, message: str
) -> None:
    with pytest.raises(InvalidField) as caught:
        validate_follower_settings(settings, PLATFORM, caps)
    assert (caught.value.field, caught.value.message) == (field, message)


@pytest.mark.parametrize(
    "settings",
    [
        FollowerRiskSettings(),
        FollowerRiskSettings(risk_perc=D(10), leverage=20, paused=True),
        FollowerRiskSettings(risk_perc=D("0.01"), leverage=1),
    ],
)
def test_validate_follower_settings_accepts_values_within_the_caps(
    settings: FollowerRiskSettings,
) -> None:
    validate_follower_settings(settings, PLATFORM, UserCaps())


def test_platform_risk_settings_defaults_are_valid() -> None:
    settings = PlatformRiskSettings()
    assert (settings.default_risk_perc, settings.default_leverage) == (D(1), 5)
    assert (settings.max_risk_perc, settings.max_leverage) == (D(10), 20)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"max_risk_perc": D(0)}, "max_risk_perc"),
        ({"max_risk_perc": D(101)}, "max_risk_perc"),
        ({"max_risk_perc": D("Infinity")}, "max_risk_perc"),
        ({"max_leverage": 0}, "max_leverage"),
        ({"max_leverage": 126}, "max_leverage"),
        ({"default_risk_perc": D(-1)}, "default_risk_perc"),
        ({"default_risk_perc": D("NaN")}, "default_risk_perc"),
        ({"default_leverage": 0}, "default_leverage"),
        ({"default_risk_perc": D(11)}, "default_risk_perc"),
        ({"default_leverage": 21}, "default_leverage"),
    ],
)
def test_platform_risk_settings_validation(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        PlatformRiskSettings(**changes)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_platform_default_may_not_exceed_its_cap() -> None:
    with pytest.raises(InvalidField) as caught:
        PlatformRiskSettings(default_risk_perc=D(5), max_risk_perc=D(4))
    assert caught.value.message == "must not exceed max_risk_perc"
    with pytest.raises(InvalidField) as caught:
        PlatformRiskSettings(default_leverage=10, max_leverage=9)
    assert caught.value.message == "must not exceed max_leverage"


# --- planning ---------------------------------------------------------------------------

RISK = EffectiveRisk(risk_perc=D(1), leverage=10)


def plan(
    action: SignalAction,
    position: Position | None = None,
    *,
    paused: bool = False,
    equity: str = "10000",
    mark: str = "65000",
) -> list[PlannedLeg]:
    return plan_account_orders(
        action=action,
        position=position,
        paused=paused,
        equity=D(equity),
        mark_price=D(mark),
        rules=BTC,
        risk=RISK,
    )


def btc_position(side: PositionSide, quantity: str) -> Position:
    return Position("BTCUSDT", side, D(quantity), D(60000), 10)


# 10000 x 1 % x 10 / 65000 = 0.01538.. -> 0.015 BTC for every entry below.
ENTRY_LONG = PlannedLeg(OrderLeg.ENTRY, OrderSide.BUY, D("0.015"), False, leverage=10)
ENTRY_SHORT = PlannedLeg(OrderLeg.ENTRY, OrderSide.SELL, D("0.015"), False, leverage=10)


def test_plan_long_without_position_is_one_entry() -> None:
    assert plan(SignalAction.LONG) == [ENTRY_LONG]


def test_plan_short_without_position_is_one_entry() -> None:
    assert plan(SignalAction.SHORT) == [ENTRY_SHORT]


def test_plan_close_of_a_long_sells_it_reduce_only() -> None:
    legs = plan(SignalAction.CLOSE, btc_position(PositionSide.LONG, "0.02"))
    assert legs == [PlannedLeg(OrderLeg.CLOSE, OrderSide.SELL, D("0.02"), True)]
    assert legs[0].leverage is None


def test_plan_close_of_a_short_buys_it_back_reduce_only() -> None:
    assert plan(SignalAction.CLOSE, btc_position(PositionSide.SHORT, "1.5")) == [
        PlannedLeg(OrderLeg.CLOSE, OrderSide.BUY, D("1.5"), True)
    ]


def test_plan_close_without_position_is_skipped() -> None:
    assert plan(SignalAction.CLOSE) == [
        PlannedLeg(
            OrderLeg.CLOSE,
            OrderSide.SELL,
            D(0),
            False,
            skip_reason="no open position to close",
        )
    ]


def test_plan_paused_follower_gets_no_entry() -> None:
    assert plan(SignalAction.LONG, paused=True) == [
        PlannedLeg(OrderLeg.ENTRY, OrderSide.BUY, D(0), False, skip_reason=PAUSED_REASON)
    ]
    assert PAUSED_REASON == "copying is paused for this follower"


def test_plan_paused_follower_still_closes() -> None:
    legs = plan(SignalAction.CLOSE, btc_position(PositionSide.LONG, "0.02"), paused=True)
    assert legs == [PlannedLeg(OrderLeg.CLOSE, OrderSide.SELL, D("0.02"), True)]


def test_plan_same_side_position_is_skipped() -> None:
    assert plan(SignalAction.LONG, btc_position(PositionSide.LONG, "0.02")) == [
        PlannedLeg(
            OrderLeg.ENTRY,
            OrderSide.BUY,
            D(0),
            False,
            skip_reason="a long position is already open",
        )
    ]


def test_plan_opposite_position_closes_then_enters() -> None:
    assert plan(SignalAction.LONG, btc_position(PositionSide.SHORT, "0.03")) == [
        PlannedLeg(OrderLeg.CLOSE, OrderSide.BUY, D("0.03"), True),
        ENTRY_LONG,
    ]
    assert plan(SignalAction.SHORT, btc_position(PositionSide.LONG, "0.03")) == [
        PlannedLeg(OrderLeg.CLOSE, OrderSide.SELL, D("0.03"), True),
        ENTRY_SHORT,
    ]


def test_plan_flip_with_too_little_equity_closes_and_skips_the_entry() -> None:
    # 100 x 1 % x 10 / 65000 = 0.000153 -> 0.000 BTC
    legs = plan(SignalAction.LONG, btc_position(PositionSide.SHORT, "0.03"), equity="100")
    assert legs[0] == PlannedLeg(OrderLeg.CLOSE, OrderSide.BUY, D("0.03"), True)
    assert (legs[1].leg, legs[1].side, legs[1].quantity) == (
        OrderLeg.ENTRY,
        OrderSide.BUY,
        D(0),
    )
    assert legs[1].skip_reason == (
        "below minimum quantity: 0.000 < 0.001 BTCUSDT (margin 1.00 x leverage 10)"
    )
    assert len(legs) == 2


def test_plan_without_equity_skips_the_entry() -> None:
    legs = plan(SignalAction.SHORT, equity="0")
    assert [(leg.leg, leg.side, leg.skip_reason) for leg in legs] == [
        (OrderLeg.ENTRY, OrderSide.SELL, "no equity available on the account")
    ]


@pytest.mark.parametrize(
    ("action", "leg", "side"),
    [
        (SignalAction.LONG, OrderLeg.ENTRY, OrderSide.BUY),
        (SignalAction.SHORT, OrderLeg.ENTRY, OrderSide.SELL),
        (SignalAction.CLOSE, OrderLeg.CLOSE, OrderSide.SELL),
    ],
)
def test_skip_account(action: SignalAction, leg: OrderLeg, side: OrderSide) -> None:
    assert skip_account(action, "why") == PlannedLeg(leg, side, D(0), False, skip_reason="why")


# --- client order ids -------------------------------------------------------------------

BINANCE_CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")


def test_client_order_id_is_deterministic_and_binance_safe() -> None:
    signal_id, account_id = "5f" * 16, "a1" * 16
    entry = client_order_id(signal_id, account_id, OrderLeg.ENTRY)
    assert entry == client_order_id(signal_id, account_id, OrderLeg.ENTRY)
    assert len(entry) == 34
    assert entry.startswith("mimic-")
    assert BINANCE_CLIENT_ID.fullmatch(entry)


def test_client_order_id_differs_per_signal_account_and_leg() -> None:
    ids = {
        client_order_id(signal, account, leg)
        for signal in ("s1", "s2")
        for account in ("a1", "a2")
        for leg in OrderLeg
    }
    assert len(ids) == 2 * 2 * len(OrderLeg)
    assert all(BINANCE_CLIENT_ID.fullmatch(i) for i in ids)
