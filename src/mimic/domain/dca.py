"""DCA (dollar-cost averaging): add to a losing position, within the follower's limits.

Add n (1, 2, ...) buys entry_quantity x multiplier^n once the mark price is
trigger_drawdown% worse than the average entry, and, after the first add, spacing% worse
than the previous add's price and at least spacing_seconds after it. No more than max_adds;
never more margin than the account has available, nor a position whose margin exceeds the
follower's risk cap of the equity.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from mimic.domain.market import MarketRules
from mimic.domain.positions import Position, PositionSide
from mimic.domain.protection import DcaSettings


@dataclass(frozen=True, slots=True)
class DcaParams:
    trigger_drawdown_perc: Decimal
    size_multiplier: Decimal
    max_adds: int
    spacing_perc: Decimal = Decimal(0)
    spacing: timedelta = timedelta(0)

    @classmethod
    def from_settings(cls, settings: DcaSettings) -> "DcaParams | None":
        if not settings.enabled:
            return None
        if (
            settings.trigger_drawdown_perc is None
            or settings.size_multiplier is None
            or settings.max_adds is None
        ):
            return None
        return cls(
            trigger_drawdown_perc=settings.trigger_drawdown_perc,
            size_multiplier=settings.size_multiplier,
            max_adds=settings.max_adds,
            spacing_perc=settings.spacing_perc or Decimal(0),
            spacing=timedelta(seconds=settings.spacing_seconds or 0),
        )


@dataclass(frozen=True, slots=True)
class DcaHistory:
    """The adds already made to this position."""

    entry_quantity: Decimal  # the size of the original entry
    adds: int = 0
    last_add_price: Decimal | None = None
    last_add_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DcaAdd:
    number: int
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class DcaSkip:
    reason: str


def drawdown_perc(side: PositionSide, entry_price: Decimal, mark_price: Decimal) -> Decimal:
    """How far the mark price is against the position, in percent of the entry (>= 0 = loss)."""
    move = (entry_price - mark_price) if side is PositionSide.LONG else (mark_price - entry_price)
    return move / entry_price * 100


def average_entry(
    quantity: Decimal, entry_price: Decimal, added: Decimal, add_price: Decimal
) -> Decimal:
    return (quantity * entry_price + added * add_price) / (quantity + added)


def plan_dca(
    *,
    position: Position,
    mark_price: Decimal,
    params: DcaParams,
    history: DcaHistory,
    now: datetime,
    rules: MarketRules,
    available_margin: Decimal,
    equity: Decimal,
    risk_cap_perc: Decimal,
) -> DcaAdd | DcaSkip | None:
    """The next add, a reason it is due but cannot be made, or None when it is not due."""
    if history.adds >= params.max_adds:
        return None
    if (
        drawdown_perc(position.side, position.entry_price, mark_price)
        < params.trigger_drawdown_perc
    ):
        return None
    if history.last_add_price is not None and (
        drawdown_perc(position.side, history.last_add_price, mark_price) < params.spacing_perc
    ):
        return None
    if history.last_add_at is not None and now - history.last_add_at < params.spacing:
        return None
    number = history.adds + 1
    quantity = rules.round_quantity_down(history.entry_quantity * params.size_multiplier**number)
    if quantity < rules.min_qty or quantity * mark_price < rules.min_notional:
        return DcaSkip(f"DCA add {number} of {quantity} is below the market's minimum size")
    if quantity > rules.max_qty:
        return DcaSkip(f"DCA add {number} of {quantity} is above the market's maximum size")
    margin = quantity * mark_price / position.leverage
    if margin > available_margin:
        return DcaSkip(
            f"DCA add {number} needs {margin:.2f} USDT margin, "
            f"{available_margin:.2f} USDT available"
        )
    position_margin = (
        position.quantity * position.entry_price + quantity * mark_price
    ) / position.leverage
    cap = equity * risk_cap_perc / 100
    if position_margin > cap:
        return DcaSkip(
            f"DCA add {number} would bring the position's margin to {position_margin:.2f} "
            f"USDT, above the risk cap of {risk_cap_perc}% of equity ({cap:.2f} USDT)"
        )
    return DcaAdd(number=number, quantity=quantity)
