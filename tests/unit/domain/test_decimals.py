from decimal import Decimal

import pytest

from mimic.domain.decimals import plain_decimal


@pytest.mark.parametrize(
    ("value", "plain"),
    [("100", "100"), ("1E+2", "100"), ("0.0010", "0.001"), ("65000.0", "65000"), ("0", "0")],
)
def test_trailing_zeros_go_and_no_exponent_appears(value: str, plain: str) -> None:
    assert str(plain_decimal(Decimal(value))) == plain
