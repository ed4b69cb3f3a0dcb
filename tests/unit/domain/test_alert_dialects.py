"""Alert dialects: public TradingView templates and OctoBot's KEY=VALUE lines, one signal."""

from typing import Any

import pytest

from mimic.domain.accounts import TradeDirection
from mimic.domain.alerts import canonical_alert, decode_key_value_alert, read_alert
from mimic.domain.errors import InvalidField
from mimic.domain.signal import SignalAction
from mimic.entrypoints.config import Settings

LONG, SHORT, CLOSE = SignalAction.LONG, SignalAction.SHORT, SignalAction.CLOSE
BOTH, LONG_ONLY, SHORT_ONLY = (
    TradeDirection.BOTH,
    TradeDirection.LONG_ONLY,
    TradeDirection.SHORT_ONLY,
)


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        # TradingView fills {{strategy.order.action}} with buy/sell: most public templates.
        ({"symbol": "BTCUSDT", "action": "buy"}, LONG),
        ({"symbol": "BTCUSDT", "action": "SELL"}, SHORT),
        ({"ticker": "BINANCE:BTCUSDT.P", "action": "long"}, LONG),
        ({"ticker": "BTCUSDT", "order_action": "sell"}, SHORT),
        ({"ticker": "BTCUSDT", "side": "Buy"}, LONG),
        ({"ticker": "BTCUSDT", "direction": "short"}, SHORT),
        ({"ticker": "BTCUSDT", "signal": "exit"}, CLOSE),
        ({"symbol": "BTCUSDT", "action": " flat "}, CLOSE),
        ({"symbol": "BTCUSDT", "action": "close"}, CLOSE),
        ({"symbol": "BTCUSDT", "strategy": {"order_action": "buy"}}, LONG),
        ({"symbol": "BTCUSDT", "strategy": {"order": {"action": "sell"}}}, SHORT),
        # The target position wins over the order action: a sell that leaves flat closes.
        ({"symbol": "BTCUSDT", "action": "sell", "market_position": "flat"}, CLOSE),
        ({"symbol": "BTCUSDT", "action": "buy", "market_position": "short"}, SHORT),
        (
            {
                "ticker": "BTCUSDT",
                "strategy": {
                    "order_action": "sell",
                    "market_position": "flat",
                    "prev_market_position": "long",
                },
            },
            CLOSE,
        ),
        ({"symbol": "BTCUSDT", "action": "sell", "position_size": "0"}, CLOSE),
        ({"symbol": "BTCUSDT", "action": "sell", "position_size": -0.5}, SHORT),
        ({"symbol": "BTCUSDT", "strategy": {"position_size": "1.25"}}, LONG),
    ],
)
def test_every_common_dialect_reads_as_one_signal(alert: dict[str, Any], expected: Any) -> None:
    params = read_alert(alert)
    assert params.action is expected
    assert params.symbol == "BTCUSDT"


@pytest.mark.parametrize(
    ("alert", "direction", "expected"),
    [
        ({"action": "buy"}, LONG_ONLY, LONG),
        ({"action": "sell"}, LONG_ONLY, CLOSE),  # a long-only master's sell closes the long
        ({"action": "sell"}, SHORT_ONLY, SHORT),
        ({"action": "buy"}, SHORT_ONLY, CLOSE),
        ({"market_position": "short"}, LONG_ONLY, CLOSE),
        ({"market_position": "long"}, SHORT_ONLY, CLOSE),
        ({"market_position": "long"}, LONG_ONLY, LONG),
        ({"action": "close"}, SHORT_ONLY, CLOSE),
        ({"action": "sell"}, BOTH, SHORT),
    ],
)
def test_a_one_sided_source_turns_the_other_side_into_a_close(
    alert: dict[str, Any], direction: TradeDirection, expected: SignalAction
) -> None:
    assert read_alert({"symbol": "ETHUSDT", **alert}, direction).action is expected


@pytest.mark.parametrize(
    ("alert", "field"),
    [
        ({"symbol": "BTCUSDT"}, "action"),
        ({"symbol": "BTCUSDT", "action": "hold"}, "action"),
        ({"symbol": "BTCUSDT", "side": 1}, "side"),
        ({"symbol": "BTCUSDT", "market_position": "buy"}, "market_position"),
        ({"symbol": "BTCUSDT", "position_size": "lots"}, "position_size"),
        ({"symbol": "BTCUSDT", "position_size": "NaN"}, "position_size"),
        ({"action": "buy"}, "symbol"),
    ],
)
def test_what_cannot_be_read_names_the_field(alert: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        read_alert(alert)
    assert caught.value.field == field


def test_a_missing_action_says_where_it_looked_and_shows_a_template() -> None:
    with pytest.raises(InvalidField) as caught:
        read_alert({"symbol": "BTCUSDT", "price": "65000"})
    message = str(caught.value)
    for key in ("action", "order_action", "side", "direction", "signal", "market_position"):
        assert key in message
    assert '"action": "{{strategy.order.action}}"' in message


def test_octobot_key_value_lines_read_case_insensitively() -> None:
    text = "EXCHANGE=binance\nSYMBOL=BTCUSDT\nSIGNAL=BUY\nPASSPHRASE=secret = with equals\n"
    values = decode_key_value_alert(text)
    assert values == {
        "exchange": "binance",
        "symbol": "BTCUSDT",
        "signal": "BUY",
        "passphrase": "secret = with equals",
    }
    assert read_alert(values).action is LONG


def test_octobot_pairs_may_share_a_line() -> None:
    values = decode_key_value_alert("EXCHANGE=binance;SYMBOL=ETHUSDT;SIGNAL=SELL")
    assert values is not None
    assert read_alert(values).action is SHORT


@pytest.mark.parametrize("text", ["", "just words", "SYMBOL=BTCUSDT\nnot a pair", "=x"])
def test_text_that_is_not_key_value_lines_is_none(text: str) -> None:
    assert decode_key_value_alert(text) is None


def test_canonical_alert_ignores_whitespace_and_key_order() -> None:
    first = {"symbol": "BTCUSDT", "action": "long", "strategy": {"b": 1, "a": 2}}
    second = {"strategy": {"a": 2, "b": 1}, "action": "long", "symbol": "BTCUSDT"}
    assert canonical_alert(first) == canonical_alert(second)
    assert canonical_alert(first) != canonical_alert({**first, "action": "short"})


def test_a_typo_in_the_sender_allow_list_stops_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MIMIC_WEBHOOK_ALLOWED_IPS", "52.89.214.238, 10.0.0.0/8")
    assert Settings.from_env().webhook_allowed_ips == ("52.89.214.238", "10.0.0.0/8")
    monkeypatch.setenv("MIMIC_WEBHOOK_ALLOWED_IPS", "52.89.214.238, 52.89.214")
    with pytest.raises(ValueError, match=r"52\.89\.214' is not"):
        Settings.from_env()
