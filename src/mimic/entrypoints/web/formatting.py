"""How numbers read on every page: money with 2 decimals, percentages with 2, quantities as
the exchange gave them (already on the market's step), times in UTC."""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money(value: object) -> str:
    number = _decimal(value)
    return "—" if number is None else f"{number.quantize(CENT, ROUND_HALF_UP):,.2f}"


def signed_money(value: object) -> str:
    number = _decimal(value)
    if number is None:
        return "—"
    return f"{number.quantize(CENT, ROUND_HALF_UP):+,.2f}"


def percent(value: object) -> str:
    number = _decimal(value)
    return "—" if number is None else f"{number.quantize(CENT, ROUND_HALF_UP):.2f} %"


def quantity(value: object) -> str:
    """The step's digits and no padding: 0.0070 reads 0.007, 12 reads 12."""
    number = _decimal(value)
    if number is None:
        return "—"
    return format(number.normalize(), "f")


def price(value: object) -> str:
    return quantity(value)


def when(value: object) -> str:
    if value is None or value == "":
        return "—"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


FILTERS = {
    "money": money,
    "signed_money": signed_money,
    "percent": percent,
    "quantity": quantity,
    "price": price,
    "when": when,
}
