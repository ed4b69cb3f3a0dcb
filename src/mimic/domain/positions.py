import enum
from dataclasses import dataclass
from decimal import Decimal

from mimic.domain.orders import OrderSide


class PositionSide(enum.StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def closing_side(self) -> OrderSide:
        return OrderSide.SELL if self is PositionSide.LONG else OrderSide.BUY

    @property
    def opening_side(self) -> OrderSide:
        return OrderSide.BUY if self is PositionSide.LONG else OrderSide.SELL


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    leverage: int
    mark_price: Decimal | None = None

    @property
    def unrealized_pnl(self) -> Decimal | None:
        if self.mark_price is None:
            return None
        direction = 1 if self.side is PositionSide.LONG else -1
        return (self.mark_price - self.entry_price) * self.quantity * direction


@dataclass(frozen=True, slots=True)
class Balance:
    """Futures wallet of one account, in its settlement currency."""

    currency: str
    wallet_balance: Decimal
    unrealized_pnl: Decimal
    available: Decimal

    @property
    def equity(self) -> Decimal:
        return self.wallet_balance + self.unrealized_pnl
