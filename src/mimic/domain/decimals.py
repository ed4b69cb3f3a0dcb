"""Decimal helpers shared by every layer that shows or stores amounts."""

from decimal import Decimal


def plain_decimal(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (100 stays 100)."""
    return Decimal(format(value.normalize(), "f"))
