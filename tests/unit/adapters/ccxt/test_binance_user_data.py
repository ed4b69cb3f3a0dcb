"""Binance user data messages decoded into account events: what is passed over, and what
a message Mimic reads but cannot decode leaves behind."""

import json
import logging
from decimal import Decimal

import pytest

from mimic.adapters.ccxt.binance_user_data import ListenKeyExpired, UserDataReader
from mimic.domain.account_events import FillCause, FillEvent
from mimic.ports.streamed_accounts import PositionReport

D = Decimal


def fill_message(**order: object) -> str:
    fields = {"s": "BTCUSDT", "S": "SELL", "i": 42, "x": "TRADE", "X": "FILLED", "l": "0.010"}
    fields |= {"L": "70000", "z": "0.010", "t": 7, "T": 1_776_000_000_000, "c": "web_1"}
    return json.dumps({"e": "ORDER_TRADE_UPDATE", "E": 1_776_000_000_000, "o": fields | order})


def test_kinds_mimic_does_not_read_are_passed_over_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reader = UserDataReader()
    for message in (
        {"e": "MARGIN_CALL", "E": 1, "cw": "3.16"},
        {"e": "ACCOUNT_CONFIG_UPDATE", "E": 1, "ac": {"s": "BTCUSDT", "l": 25}},
        {"e": "TRADE_LITE", "E": 1, "s": "BTCUSDT"},
        {"result": None, "id": 1},
    ):
        assert reader.events(json.dumps(message)) == []
    assert caplog.records == []


def test_a_fill_mimic_cannot_decode_is_logged_for_the_reconciliation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        assert UserDataReader().events(fill_message(i=None)) == []
    assert "user data event ORDER_TRADE_UPDATE not read" in caplog.text


def test_an_order_update_without_an_execution_is_no_fill() -> None:
    assert UserDataReader().events(fill_message(x="NEW", X="NEW", l="0")) == []


def test_the_order_a_take_profit_placed_carries_the_take_profits_client_id() -> None:
    reader = UserDataReader()
    triggered = {"e": "ALGO_UPDATE", "E": 1, "o": {"caid": "mp-abc-tp", "ai": "42"}}
    assert reader.events(json.dumps(triggered)) == []
    [fill] = reader.events(fill_message(c="TP_1"))
    assert isinstance(fill, FillEvent)
    assert (fill.client_order_id, fill.cause, fill.fill.quantity) == (
        "mp-abc-tp",
        FillCause.ORDER,
        D("0.01"),
    )


def test_nulls_in_a_liquidation_are_no_error() -> None:
    [fill] = UserDataReader().events(fill_message(x="CALCULATED", sp=None, AP=None, rp=None))
    assert isinstance(fill, FillEvent)
    assert (fill.cause, fill.fill.realized_pnl) == (FillCause.LIQUIDATION, D(0))


def test_an_expired_listen_key_ends_the_socket() -> None:
    with pytest.raises(ListenKeyExpired):
        UserDataReader().events('{"e": "listenKeyExpired", "E": "1", "listenKey": "k"}')


def test_positions_and_leverage_are_kept_for_the_streamed_state_in_order() -> None:
    reader = UserDataReader()
    update = {"e": "ACCOUNT_UPDATE", "E": 12, "T": 11, "a": {"m": "ORDER", "B": [], "P": [
        {"s": "BTCUSDT", "pa": "0.010", "ep": "65000", "ps": "BOTH"},
    ]}}  # fmt: skip
    reader.events(json.dumps(update))
    reader.events(json.dumps({"e": "ACCOUNT_CONFIG_UPDATE", "E": 13, "T": 13,
                              "ac": {"s": "BTCUSDT", "l": 25}}))  # fmt: skip
    assert reader.take_state() == (
        [PositionReport("BTCUSDT", "BOTH", D("0.010"), D(65000), 11)],
        {"BTCUSDT": 25},
    )
    assert reader.take_state() == ([], {})  # each told once
