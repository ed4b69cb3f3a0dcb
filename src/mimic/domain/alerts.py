"""Alert dialects: what public TradingView templates and other bots send, read as one signal.

The action is read from the first of `ACTION_KEYS` present, the symbol from `symbol` or
`ticker`, and TradingView's strategy placeholders at the top level or nested under
`strategy`. What decides the action:

| the alert carries                          | both sides | long-only | short-only |
|--------------------------------------------|------------|-----------|------------|
| `market_position` long                     | long       | long      | close      |
| `market_position` short                    | short      | close     | short      |
| `market_position` flat                     | close      | close     | close      |
| else `position_size` > 0 / < 0 / 0         | as long / short / flat above       |||
| else an action `buy` or `long`             | long       | long      | close      |
| else an action `sell` or `short`           | short      | close     | short      |
| else an action `close`, `flat` or `exit`   | close      | close     | close      |

The target position (`market_position`, or the sign of `position_size`) wins over the order
action: TradingView sends `sell` both to close a long and to open a short.

Plain-text alerts in OctoBot's layout are `KEY=VALUE` lines (or `;`-separated pairs):
`EXCHANGE`, `SYMBOL`, `SIGNAL` and the `PASSPHRASE`; keys are read case-insensitively.
"""

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from mimic.domain.accounts import TradeDirection
from mimic.domain.errors import InvalidField
from mimic.domain.signal import SignalAction, SignalParams, parse_signal

ACTION_KEYS = ("action", "order_action", "side", "direction", "signal")
SYMBOL_KEYS = ("symbol", "ticker")
_STRATEGY_KEYS = ("market_position", "order_action", "position_size", "prev_market_position")

_WORDS = {
    "buy": "buy",
    "long": "long",
    "sell": "sell",
    "short": "short",
    "close": "close",
    "flat": "close",
    "exit": "close",
}
ACTION_WORDS = tuple(_WORDS)

WORKING_TEMPLATE = (
    '{"passphrase": "<passphrase>", "symbol": "{{ticker}}", '
    '"action": "{{strategy.order.action}}", "market_position": "{{strategy.market_position}}"}'
)


def decode_key_value_alert(text: str) -> dict[str, str] | None:
    """OctoBot's `KEY=VALUE` alert as a mapping with lower-case keys; None if it is not one."""
    pairs = [p.strip() for line in text.splitlines() for p in line.split(";")]
    pairs = [p for p in pairs if p]
    if not pairs or not all("=" in p for p in pairs):
        return None
    values: dict[str, str] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        key = key.strip().lower()
        if not key:
            return None
        values[key] = value.strip()
    return values


def canonical_alert(values: Mapping[str, Any]) -> bytes:
    """The alert's content independent of whitespace and key order: its dedupe identity."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str).encode()


def read_alert(
    values: Mapping[str, Any], direction: TradeDirection = TradeDirection.BOTH
) -> SignalParams:
    """The signal an alert of any supported dialect asks for, for a source trading `direction`."""
    strategy = values.get("strategy")
    nested: Mapping[str, Any] = strategy if isinstance(strategy, Mapping) else {}
    placeholders = {key: _first(key, values, nested) for key in _STRATEGY_KEYS}
    nested_order = nested.get("order")
    if placeholders["order_action"] is None and isinstance(nested_order, Mapping):
        placeholders["order_action"] = nested_order.get("action")
    action = _target(placeholders) or _order_action(values, placeholders)
    symbol = next((values[k] for k in SYMBOL_KEYS if values.get(k) is not None), None)
    if symbol is None:
        raise InvalidField(
            "symbol", f"is required: looked for {' or '.join(SYMBOL_KEYS)}; {_TEMPLATE_HINT}"
        )
    return parse_signal(
        symbol=symbol,
        action=restrict_action(action, direction).value,
        risk_perc=values.get("risk_perc"),
        leverage=values.get("leverage"),
        tp_perc=values.get("tp_perc"),
        sl_perc=values.get("sl_perc"),
        external_id=values.get("id"),
    )


_TEMPLATE_HINT = f"a template that works: {WORKING_TEMPLATE}"
_LOOKED_FOR = ", ".join(
    [*ACTION_KEYS, "market_position", "position_size", "strategy.market_position",
     "strategy.order_action", "strategy.position_size"]
)  # fmt: skip


def _first(key: str, values: Mapping[str, Any], nested: Mapping[str, Any]) -> Any:
    value = values.get(key)
    return nested.get(key) if value is None else value


def _target(placeholders: Mapping[str, Any]) -> SignalAction | None:
    """The position the master holds after this alert, when the alert says so."""
    position = placeholders["market_position"]
    if position is not None:
        word = _word("market_position", position)
        if word in ("buy", "sell"):
            raise InvalidField("market_position", f"{position!r} is not long, short or flat")
        return _ACTIONS[word]
    size = placeholders["position_size"]
    if size is None or (isinstance(size, str) and not size.strip()):
        return None
    try:
        amount = Decimal(str(size).strip())
    except InvalidOperation:
        raise InvalidField("position_size", f"{size!r} is not a number") from None
    if not amount.is_finite() or isinstance(size, bool):
        raise InvalidField("position_size", f"{size!r} is not a number")
    if amount > 0:
        return SignalAction.LONG
    return SignalAction.SHORT if amount < 0 else SignalAction.CLOSE


def _order_action(values: Mapping[str, Any], placeholders: Mapping[str, Any]) -> SignalAction:
    for key in ACTION_KEYS:
        if values.get(key) is not None:
            return _ACTIONS[_word(key, values[key])]
    if placeholders["order_action"] is not None:
        return _ACTIONS[_word("order_action", placeholders["order_action"])]
    raise InvalidField("action", f"is required: looked for {_LOOKED_FOR}; {_TEMPLATE_HINT}")


def _word(field: str, value: object) -> str:
    word = _WORDS.get(value.strip().lower()) if isinstance(value, str) else None
    if word is None:
        raise InvalidField(
            field, f"{value!r} is not one of buy, sell, long, short, close, flat, exit"
        )
    return word


# "buy"/"sell" without a target position: a reversal into that side (narrowed by direction).
_ACTIONS = {
    "buy": SignalAction.LONG,
    "long": SignalAction.LONG,
    "sell": SignalAction.SHORT,
    "short": SignalAction.SHORT,
    "close": SignalAction.CLOSE,
}


def restrict_action(action: SignalAction, direction: TradeDirection) -> SignalAction:
    """A long-only source's (or follow's) short, or a short-only one's long, closes what
    is open."""
    if (direction is TradeDirection.LONG_ONLY and action is SignalAction.SHORT) or (
        direction is TradeDirection.SHORT_ONLY and action is SignalAction.LONG
    ):
        return SignalAction.CLOSE
    return action
