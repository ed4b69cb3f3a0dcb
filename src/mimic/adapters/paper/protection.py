"""Stop-loss / take-profit orders of the paper exchange: in memory, one book per venue.

For now they are validated as Binance validates them (an open position on that side, a
trigger on the losing / winning side of the mark price, client ids unique among open
orders), listed and cancelled, but they live in this process only and never trigger. The
risk-features work (issue 5) moves them into the paper tables, where every process sees
them, and fires them when the mark price crosses.
"""

import re
import uuid
import weakref
from dataclasses import dataclass
from decimal import Decimal

from mimic.domain.errors import DuplicateClientOrderId, OrderRejected
from mimic.domain.positions import Position, PositionSide

MAX_PREFIX = 34  # ids are prefix + "sl" / "tp"; Binance allows 36 characters
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")


@dataclass(frozen=True, slots=True)
class ProtectiveOrder:
    order_id: str
    client_order_id: str
    symbol: str
    position_side: PositionSide
    kind: str  # "sl" or "tp"
    trigger_price: Decimal


class PaperProtectiveOrders:
    def __init__(self) -> None:
        self._orders: dict[tuple[str, str], list[ProtectiveOrder]] = {}

    def place(
        self,
        account_id: str,
        position: Position | None,
        symbol: str,
        position_side: PositionSide,
        mark_price: Decimal,
        triggers: dict[str, Decimal | None],
        prefix: str,
    ) -> list[str]:
        if len(prefix) > MAX_PREFIX or not _CLIENT_ID.match(prefix + "sl"):
            raise OrderRejected(
                f"client order id prefix {prefix!r} must be 1 to {MAX_PREFIX} characters "
                "of A-Z a-z 0-9 . : / _ -"
            )
        if position is None or position.side is not position_side:
            raise OrderRejected(f"no open {position_side.value} {symbol} position to protect")
        book = self._orders.setdefault((account_id, symbol), [])
        placed = []
        for kind, price in triggers.items():
            if price is None:
                continue
            _check_trigger(kind, price, position_side, mark_price, symbol)
            client_id = prefix + kind
            if any(o.client_order_id == client_id for o in book):
                raise DuplicateClientOrderId(f"client order id {client_id} is already open")
            order = ProtectiveOrder(uuid.uuid4().hex, client_id, symbol, position_side, kind, price)
            book.append(order)
            placed.append(order.order_id)
        return placed

    def cancel(self, account_id: str, symbol: str) -> None:
        self._orders.pop((account_id, symbol), None)

    def open_orders(self, account_id: str, symbol: str) -> list[ProtectiveOrder]:
        return list(self._orders.get((account_id, symbol), []))


def _check_trigger(
    kind: str, price: Decimal, side: PositionSide, mark: Decimal, symbol: str
) -> None:
    if not price.is_finite() or price <= 0:
        raise OrderRejected(f"{kind} price of {symbol} must be positive, got {price}")
    # A long's stop is below the mark and its take-profit above; a short's the other way.
    below = (kind == "sl") == (side is PositionSide.LONG)
    if (below and price >= mark) or (not below and price <= mark):
        raise OrderRejected(
            f"{kind} at {price} would trigger immediately: {symbol} mark price is {mark}"
        )


_BOOKS: "weakref.WeakKeyDictionary[object, PaperProtectiveOrders]" = weakref.WeakKeyDictionary()


def protective_orders_of(venue: object) -> PaperProtectiveOrders:
    """The book of one venue object: every gateway of that venue shares it."""
    book = _BOOKS.get(venue)
    if book is None:
        book = _BOOKS[venue] = PaperProtectiveOrders()
    return book
