"""The paper exchange's arithmetic: positions, margin and order checks as Binance does them.

Pure: a `Book` is one account as read in one transaction, and nothing here touches the
database. One-way mode (one signed position per symbol); fees, realized PnL and initial
margin follow Binance's arithmetic.
"""

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from mimic.domain.decimals import plain_decimal
from mimic.domain.errors import (
    InsufficientMargin,
    InvalidPrecision,
    OrderRejected,
    ReduceOnlyRejected,
)
from mimic.domain.market import MarketRules
from mimic.domain.orders import OrderRequest
from mimic.domain.positions import Balance, Position, PositionSide

CURRENCY = "USDT"
DEFAULT_LEVERAGE = 20  # what Binance gives a symbol the account never configured
_CLIENT_ORDER_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")  # Binance's newClientOrderId
# Money and average prices are kept to 8 decimals, as Binance reports them; without a fixed
# scale a weighted average would differ between SQLite (text) and Postgres NUMERIC(38, 18).
_SCALE = Decimal("0.00000001")


def round_money(value: Decimal) -> Decimal:
    return plain_decimal(value.quantize(_SCALE, rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class Held:
    """One row of paper_positions; a flat row (quantity 0) only remembers the leverage."""

    quantity: Decimal  # signed: short < 0
    entry_price: Decimal
    leverage: int

    @property
    def initial_margin(self) -> Decimal:
        return abs(self.quantity) * self.entry_price / self.leverage

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return (mark - self.entry_price) * self.quantity

    def fill(self, signed_quantity: Decimal, price: Decimal) -> tuple["Held", Decimal]:
        """The position after a fill of `signed_quantity` at `price`, and the PnL realized."""
        before, after = self.quantity, self.quantity + signed_quantity
        if before == 0 or (before > 0) == (signed_quantity > 0):
            entry = (abs(before) * self.entry_price + abs(signed_quantity) * price) / abs(after)
            return Held(after, round_money(entry), self.leverage), Decimal(0)
        closed = min(abs(signed_quantity), abs(before))
        direction = 1 if before > 0 else -1
        realized = round_money((price - self.entry_price) * closed * direction)
        if after == 0:
            entry = Decimal(0)
        elif (after > 0) == (before > 0):
            entry = self.entry_price  # reducing keeps the entry price
        else:
            entry = price  # flipped through zero: the remainder opens at the fill price
        return Held(after, entry, self.leverage), realized


@dataclass(slots=True)
class Book:
    """One account as read in one transaction; a batch of orders updates it as it fills."""

    wallet: Decimal
    positions: dict[str, Held]
    marks: dict[str, Decimal]

    @property
    def unrealized_pnl(self) -> Decimal:
        return sum(
            (held.unrealized_pnl(self.marks[s]) for s, held in self.positions.items()),
            Decimal(0),
        )

    def initial_margin(self, *, excluding: str | None = None) -> Decimal:
        return sum(
            (held.initial_margin for s, held in self.positions.items() if s != excluding),
            Decimal(0),
        )

    def held(self, symbol: str) -> Held:
        return self.positions.get(symbol, Held(Decimal(0), Decimal(0), DEFAULT_LEVERAGE))


def check_leverage(leverage: int, rules: MarketRules) -> None:
    if not 1 <= leverage <= rules.max_leverage:
        raise OrderRejected(
            f"leverage {leverage} is not valid for {rules.symbol}: choose 1 to {rules.max_leverage}"
        )


def check_order(request: OrderRequest, rules: MarketRules) -> None:
    quantity, symbol = request.quantity, request.symbol
    if not _CLIENT_ORDER_ID.match(request.client_order_id):
        raise OrderRejected(
            f"client order id {request.client_order_id!r} must be 1 to 36 characters "
            "of A-Z a-z 0-9 . : / _ -"
        )
    if not quantity.is_finite() or quantity <= 0:
        raise OrderRejected(f"quantity must be positive, got {quantity}")
    if quantity % rules.step_size != 0:
        raise InvalidPrecision(
            f"quantity {quantity} is not a multiple of step size {rules.step_size}"
        )
    if quantity < rules.min_qty:
        raise OrderRejected(f"quantity {quantity} is below the minimum {rules.min_qty} {symbol}")
    if quantity > rules.max_qty:
        raise OrderRejected(
            f"quantity {quantity} is above the maximum {rules.max_qty} {symbol} for a market order"
        )


def check_reduce_only(request: OrderRequest, held: Held, reduces: bool) -> None:
    if held.quantity == 0:
        raise ReduceOnlyRejected(
            f"reduce-only order rejected: there is no open {request.symbol} position"
        )
    if not reduces:
        side = "long" if held.quantity > 0 else "short"
        raise ReduceOnlyRejected(
            f"reduce-only order rejected: a {request.side.value} would increase "
            f"the {side} {request.symbol} position"
        )


def check_margin(book: Book, symbol: str, after: Held, fee: Decimal) -> None:
    """The new position's initial margin and the fee must fit in what the rest leaves free."""
    need = after.initial_margin + fee
    available = book.wallet + book.unrealized_pnl - book.initial_margin(excluding=symbol)
    if need > available:
        raise InsufficientMargin(
            f"margin is insufficient: need {need:.2f} USDT, available {available:.2f} USDT"
        )


def equity_of(book: Book) -> Decimal:
    """`balance_of(book).equity` without the available balance: all that planning an order
    asks of every account, and the margin's sums were half of answering it."""
    return book.wallet + round_money(book.unrealized_pnl)


def balance_of(book: Book) -> Balance:
    unrealized = round_money(book.unrealized_pnl)
    return Balance(
        currency=CURRENCY,
        wallet_balance=book.wallet,
        unrealized_pnl=unrealized,
        available=round_money(book.wallet + unrealized - book.initial_margin()),
    )


def position_of(symbol: str, held: Held, mark: Decimal) -> Position:
    return Position(
        symbol=symbol,
        side=PositionSide.LONG if held.quantity > 0 else PositionSide.SHORT,
        quantity=abs(held.quantity),
        entry_price=held.entry_price,
        leverage=held.leverage,
        mark_price=mark,
    )
