"""Trailing stop-loss: a stop that follows the best price once the position is in profit.

Long: it activates when the price reaches entry x (1 + activation%); from then on the stop is
the highest price seen x (1 - callback%), it only ever moves up, and the price at or below it
is a hit. A short is mirrored (lowest price, stop above, only ever moves down).
"""

from dataclasses import dataclass, replace
from decimal import Decimal

from mimic.domain.errors import InvalidField
from mimic.domain.positions import PositionSide


@dataclass(frozen=True, slots=True)
class TrailingParams:
    activation_perc: Decimal
    callback_perc: Decimal

    def __post_init__(self) -> None:
        for name in ("activation_perc", "callback_perc"):
            value: Decimal = getattr(self, name)
            if not value.is_finite() or value <= 0 or value >= 100:
                raise InvalidField(f"trailing.{name}", "must be greater than 0 and below 100")
        if self.callback_perc >= self.activation_perc:
            raise InvalidField(
                "trailing.callback_perc",
                f"must be smaller than trailing.activation_perc ({self.activation_perc})",
            )


@dataclass(frozen=True, slots=True)
class TrailingState:
    """What the monitor remembers about one position between price updates."""

    side: PositionSide
    entry_price: Decimal
    best_price: Decimal | None = None  # highest (long) / lowest (short) since activation
    stop_price: Decimal | None = None  # None until activated
    hit_price: Decimal | None = None

    @property
    def active(self) -> bool:
        return self.stop_price is not None

    @property
    def hit(self) -> bool:
        return self.hit_price is not None

    def activation_price(self, params: TrailingParams) -> Decimal:
        if self.side is PositionSide.LONG:
            return self.entry_price * (1 + params.activation_perc / 100)
        return self.entry_price * (1 - params.activation_perc / 100)

    def with_entry(self, entry_price: Decimal) -> "TrailingState":
        """The average entry moved (a DCA add): an inactive stop re-arms from the new one."""
        if self.active or entry_price == self.entry_price:
            return self
        return replace(self, entry_price=entry_price)

    def advance(self, price: Decimal, params: TrailingParams) -> "TrailingState":
        """The state after the mark price `price`; a hit state stays hit."""
        if self.hit or price <= 0:
            return self
        long = self.side is PositionSide.LONG
        if self.stop_price is not None:
            if (price <= self.stop_price) if long else (price >= self.stop_price):
                return replace(self, hit_price=price)
        elif (
            (price < self.activation_price(params))
            if long
            else (price > self.activation_price(params))
        ):
            return self
        best = self.best_price
        if best is None or (price > best if long else price < best):
            best = price
        if long:
            stop = best * (1 - params.callback_perc / 100)
            if self.stop_price is not None:
                stop = max(stop, self.stop_price)
        else:
            stop = best * (1 + params.callback_perc / 100)
            if self.stop_price is not None:
                stop = min(stop, self.stop_price)
        return replace(self, best_price=best, stop_price=stop)
