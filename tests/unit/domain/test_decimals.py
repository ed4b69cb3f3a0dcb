import random
from decimal import Decimal

import pytest

from mimic.domain.decimals import plain_decimal


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ("100", "100"),
        ("1E+2", "100"),
        ("0.0010", "0.001"),
        ("65000.0", "65000"),
        ("0", "0"),
        ("-0.000", "-0"),
        ("10000.000000000000000000", "10000"),
        ("1E+30", "1000000000000000000000000000000"),
        ("9999999999999999999999999999.99", "10000000000000000000000000000"),
        ("1.5E-7", "1.5E-7"),
        ("-Infinity", "-Infinity"),
        ("NaN", "NaN"),
    ],
)
def test_trailing_zeros_go_and_no_exponent_appears(value: str, plain: str) -> None:
    assert str(plain_decimal(Decimal(value))) == plain


def test_same_digits_and_exponent_as_through_text() -> None:
    """The arithmetic gives what normalizing and reading back the fixed-point text gives."""
    draw = random.Random(17)
    for _ in range(20_000):
        value = Decimal(draw.randint(-(10**32), 10**32)).scaleb(draw.randint(-40, 5))
        through_text = Decimal(format(value.normalize(), "f"))
        assert plain_decimal(value).as_tuple() == through_text.as_tuple(), value
