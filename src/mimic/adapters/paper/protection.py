"""Stop-loss / take-profit orders of the paper exchange, validated as Binance validates them.

They live in the paper_protective_orders table (see `PaperVenue`): every process sees them,
and whichever process moves the mark price across a trigger fires it.
"""

import enum
import re
from dataclasses import dataclass
from decimal import Decimal

from mimic.domain.errors import OrderRejected
from mimic.domain.positions import PositionSide

MAX_PREFIX = 34  # ids are prefix + "sl" / "tp"; Binance allows 36 characters
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")


class ProtectiveStatus(enum.StrEnum):
    OPEN = "open"
    TRIGGERED = "triggered"  # its reduce-only market order filled
    CANCELLED = "cancelled"  # by the owner, or because the position closed otherwise


@dataclass(frozen=True, slots=True)
class ProtectiveOrder:
    order_id: str
    account_id: str
    client_order_id: str
    symbol: str
    position_side: PositionSide
    kind: str  # "sl" or "tp"
    trigger_price: Decimal
    status: ProtectiveStatus

    def crossed_by(self, mark: Decimal) -> bool:
        """Whether the mark price `mark` fires this order."""
        if _below(self.kind, self.position_side):
            return mark <= self.trigger_price
        return mark >= self.trigger_price


def _below(kind: str, side: PositionSide) -> bool:
    """A long's stop is below the mark and its take-profit above; a short's the other way."""
    return (kind == "sl") == (side is PositionSide.LONG)


def check_prefix(prefix: str) -> None:
    if len(prefix) > MAX_PREFIX or not _CLIENT_ID.match(prefix + "sl"):
        raise OrderRejected(
            f"client order id prefix {prefix!r} must be 1 to {MAX_PREFIX} characters "
            "of A-Z a-z 0-9 . : / _ -"
        )


def check_trigger(
    kind: str, price: Decimal, side: PositionSide, mark: Decimal, symbol: str
) -> None:
    if not price.is_finite() or price <= 0:
        raise OrderRejected(f"{kind} price of {symbol} must be positive, got {price}")
    below = _below(kind, side)
    if (below and price >= mark) or (not below and price <= mark):
        raise OrderRejected(
            f"{kind} at {price} would trigger immediately: {symbol} mark price is {mark}"
        )
