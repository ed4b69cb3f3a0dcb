"""Decimal helpers shared by every layer that shows or stores amounts."""

from decimal import Decimal, getcontext

_ONE = Decimal(1)


def plain_decimal(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (100 stays 100).

    Every amount read from the database passes here: arithmetic, not a round trip through
    text, is about twice as fast.
    """
    normal = value.normalize()
    if not normal.is_finite() or normal != normal.to_integral_value():
        return normal  # a fraction: normalized, its exponent is negative already
    if normal.adjusted() < getcontext().prec:
        return normal.quantize(_ONE)  # a whole number: exponent 0 (1E+2 becomes 100)
    return Decimal(format(normal, "f"))  # too many digits to quantize
