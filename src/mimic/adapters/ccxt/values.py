"""What ccxt hands out (floats, strings, untyped dicts) as domain values, and the rules
that go with them. Money goes through str() to Decimal, never through float math."""

from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from mimic.domain.decimals import plain_decimal
from mimic.domain.errors import InvalidPrecision, OrderRejected
from mimic.domain.market import MarketRules

FEE_SCALE = Decimal("0.00000001")
_D = TypeVar("_D", Decimal, None)


def to_decimal(value: Any) -> Decimal:
    """ccxt hands out floats and strings; money goes through str(), never float math."""
    if value is None or value == "":
        raise ValueError("missing number")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    # Drop padding zeros ("0.0010", 65000.0).
    return plain_decimal(number)


def to_decimal_or(value: Any, default: _D) -> Decimal | _D:
    try:
        return to_decimal(value)
    except ValueError:
        return default


def is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def contract_size(market: dict[str, Any]) -> Decimal:
    return to_decimal_or(market.get("contractSize"), Decimal(1)) or Decimal(1)


def taker_rate(market: dict[str, Any]) -> Decimal:
    return to_decimal_or(market.get("taker"), Decimal("0.0005"))


def domain_symbol(market: dict[str, Any]) -> str:
    return f"{market['base']}{market['quote']}"


def check_quantity(quantity: Decimal, rules: MarketRules) -> None:
    """ccxt truncates a quantity to the step silently; a wrong size must fail loudly."""
    if not quantity.is_finite() or quantity <= 0:
        raise OrderRejected(f"quantity must be positive, got {quantity}")
    if quantity % rules.step_size != 0:
        raise InvalidPrecision(
            f"quantity {quantity} is not a multiple of step size {rules.step_size} "
            f"for {rules.symbol}"
        )
