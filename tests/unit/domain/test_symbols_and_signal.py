"""Symbol normalisation and the validation of a TradingView alert."""

import json
from decimal import Decimal
from typing import Any

import pytest

from mimic.domain.errors import InvalidField
from mimic.domain.signal import (
    MAX_EXTERNAL_ID_LENGTH,
    SignalAction,
    SignalParams,
    dedupe_key,
    key_expires,
    parse_signal,
)
from mimic.domain.symbols import normalize_symbol


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("BTCUSDT", "BTCUSDT"),
        ("btcusdt", "BTCUSDT"),
        ("BTCUSDT.P", "BTCUSDT"),
        ("BINANCE:BTCUSDT.P", "BTCUSDT"),
        ("BINANCE:BTCUSDTPERP", "BTCUSDT"),
        ("BYBIT:ETHUSDT.P", "ETHUSDT"),
        ("binance:dogeusdt.p", "DOGEUSDT"),
        ("BTCUSDT.PERP", "BTCUSDT"),
        ("  BTCUSDT  ", "BTCUSDT"),
        ("BTC/USDT", "BTCUSDT"),
        ("BTC-USDT", "BTCUSDT"),
        ("1000PEPEUSDT.P", "1000PEPEUSDT"),
        ("BTC/USDT:USDT", "BTCUSDT"),
    ],
)
def test_normalize_symbol_accepts_tradingview_spellings(raw: str, expected: str) -> None:
    assert normalize_symbol(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", "BTC USDT", "!!!", "BINANCE:", "B", "BTCUSDT!", ".P", "X" * 31]
)
def test_normalize_symbol_rejects_garbage_naming_the_symbol_field(raw: str) -> None:
    with pytest.raises(InvalidField) as caught:
        normalize_symbol(raw)
    assert caught.value.field == "symbol"
    assert repr(raw) in caught.value.message


def test_normalize_symbol_rejects_an_embedded_newline() -> None:
    with pytest.raises(InvalidField):
        normalize_symbol("BTCUSDT\n.P")


def _parse(**overrides: Any) -> SignalParams:
    values: dict[str, Any] = {"symbol": "BINANCE:BTCUSDT.P", "action": "long"}
    values.update(overrides)
    return parse_signal(**values)


def _field_error(**overrides: Any) -> InvalidField:
    with pytest.raises(InvalidField) as caught:
        _parse(**overrides)
    return caught.value


def test_parse_signal_minimal_alert() -> None:
    assert _parse() == SignalParams(symbol="BTCUSDT", action=SignalAction.LONG)


def test_parse_signal_full_alert_converts_every_field() -> None:
    params = _parse(
        action="short",
        risk_perc="2.5",
        leverage=10.0,
        tp_perc=3,
        sl_perc=1.5,
        external_id="  abc-1  ",
    )
    assert params == SignalParams(
        symbol="BTCUSDT",
        action=SignalAction.SHORT,
        risk_perc=Decimal("2.5"),
        leverage=10,
        tp_perc=Decimal(3),
        sl_perc=Decimal("1.5"),
        external_id="abc-1",
    )
    assert type(params.leverage) is int


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("long", SignalAction.LONG),
        ("LONG", SignalAction.LONG),
        (" Short ", SignalAction.SHORT),
        ("Close", SignalAction.CLOSE),
        ("flat", SignalAction.CLOSE),
    ],
)
def test_parse_signal_action_is_case_insensitive(raw: str, expected: SignalAction) -> None:
    assert _parse(action=raw).action is expected


@pytest.mark.parametrize("action", [None, "", "buy", "sell", "longg", 1])
def test_parse_signal_rejects_unknown_action(action: object) -> None:
    assert _field_error(action=action).field == "action"


@pytest.mark.parametrize("symbol", [None, "", "  ", 123, "BTC USDT", "!!!"])
def test_parse_signal_rejects_bad_symbol(symbol: object) -> None:
    assert _field_error(symbol=symbol).field == "symbol"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "must be greater than 0"),
        (-1, "must be greater than 0"),
        ("0", "must be greater than 0"),
        (101, "must be at most 100"),
        ("100.0001", "must be at most 100"),
        ("abc", "'abc' is not a number"),
        (float("nan"), "must be a finite number"),
        ("NaN", "must be a finite number"),
        ("Infinity", "must be a finite number"),
        (True, "must be a number"),
        ([1], "must be a number"),
        ("1e-999999999", "'1e-999999999' is out of range"),
        ("1e999", "'1e999' is out of range"),
    ],
)
def test_parse_signal_rejects_bad_risk_perc(value: object, message: str) -> None:
    error = _field_error(risk_perc=value)
    assert (error.field, error.message) == ("risk_perc", message)


@pytest.mark.parametrize("value", [Decimal("0.01"), Decimal(1), Decimal(100)])
def test_parse_signal_risk_perc_bounds_are_inclusive(value: Decimal) -> None:
    assert _parse(risk_perc=str(value)).risk_perc == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "must be greater than 0"),
        (-5, "must be greater than 0"),
        (126, "must be at most 125"),
        (2.5, "must be a whole number"),
        ("2.5", "must be a whole number"),
        ("x", "'x' is not a number"),
        (True, "must be a number"),
        (float("inf"), "must be a finite number"),
    ],
)
def test_parse_signal_rejects_bad_leverage(value: object, message: str) -> None:
    error = _field_error(leverage=value)
    assert (error.field, error.message) == ("leverage", message)


@pytest.mark.parametrize(("value", "expected"), [(1, 1), (125, 125), ("20", 20), (3.0, 3)])
def test_parse_signal_accepts_whole_leverage(value: object, expected: int) -> None:
    assert _parse(leverage=value).leverage == expected


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tp_perc", 0, "must be greater than 0"),
        ("tp_perc", -1, "must be greater than 0"),
        ("tp_perc", "1000.01", "must be at most 1000"),
        ("tp_perc", "nope", "'nope' is not a number"),
        ("sl_perc", 0, "must be greater than 0"),
        ("sl_perc", 100, "must be below 100"),
        ("sl_perc", 150, "must be below 100"),
        ("sl_perc", False, "must be a number"),
    ],
)
def test_parse_signal_rejects_tp_and_sl_out_of_range(
    field: str, value: object, message: str
) -> None:
    error = _field_error(**{field: value})
    assert (error.field, error.message) == (field, message)


def test_parse_signal_tp_and_sl_upper_bounds() -> None:
    params = _parse(tp_perc=1000, sl_perc="99.99")
    assert (params.tp_perc, params.sl_perc) == (Decimal(1000), Decimal("99.99"))


def test_parse_signal_reports_the_first_bad_field() -> None:
    assert _field_error(risk_perc=0, leverage=0).field == "risk_perc"


def test_parse_signal_id_length_limit() -> None:
    longest = "a" * MAX_EXTERNAL_ID_LENGTH
    assert _parse(external_id=longest).external_id == longest
    error = _field_error(external_id="a" * (MAX_EXTERNAL_ID_LENGTH + 1))
    assert (error.field, error.message) == ("id", "must be at most 128 characters")


@pytest.mark.parametrize(("value", "expected"), [(42, "42"), ("  ", None), ("", None)])
def test_parse_signal_id_is_a_trimmed_string_or_none(value: object, expected: str | None) -> None:
    assert _parse(external_id=value).external_id == expected


@pytest.mark.parametrize("value", [True, 1.5, ["a"], {"a": 1}])
def test_parse_signal_rejects_non_string_id(value: object) -> None:
    error = _field_error(external_id=value)
    assert (error.field, error.message) == ("id", "must be a string")


def _body(**fields: Any) -> bytes:
    return json.dumps({"passphrase": "p", "symbol": "BTCUSDT", "action": "long", **fields}).encode()


def test_dedupe_key_of_the_same_body_is_the_same_expiring_key() -> None:
    params = _parse()
    first = dedupe_key(params, _body())
    assert first == dedupe_key(params, _body())
    assert first.startswith("body:")
    assert len(first) == len("body:") + 64
    assert key_expires(first) is True


def test_dedupe_key_of_another_body_differs() -> None:
    params = _parse()
    assert dedupe_key(params, _body()) != dedupe_key(params, _body(leverage=3))


def test_dedupe_key_with_explicit_id_ignores_the_body_and_never_expires() -> None:
    params = _parse(external_id="order-7")
    key = dedupe_key(params, _body(id="order-7"))
    assert key == "id:order-7"
    assert dedupe_key(params, _body(id="order-7", risk_perc=3)) == key
    assert key_expires(key) is False
