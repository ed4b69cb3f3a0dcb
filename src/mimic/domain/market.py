"""Exchange trading rules of one market, and rounding that respects them."""

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal


@dataclass(frozen=True, slots=True)
class MarketRules:
    symbol: str
    step_size: Decimal
    tick_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    max_leverage: int = 125

    def round_quantity_down(self, quantity: Decimal) -> Decimal:
        """Largest multiple of the step size not above `quantity` (never round a size up)."""
        steps = (quantity / self.step_size).to_integral_value(rounding=ROUND_DOWN)
        return (steps * self.step_size).quantize(self.step_size)

    def round_price(self, price: Decimal) -> Decimal:
        ticks = (price / self.tick_size).to_integral_value(rounding=ROUND_HALF_UP)
        return (ticks * self.tick_size).quantize(self.tick_size)
