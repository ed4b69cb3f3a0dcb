"""Where an open position reacts next: its stop, target, trailing stop and DCA prices.

Between signals a position only changes when the price reaches one of these levels, so the
lab asks the candle series for the next candle that reaches the nearest one (on the losing
side: stop-loss, trailing stop, DCA add; on the winning side: take-profit, the trailing
stop's activation or a new best price) and walks only that candle.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from mimic.domain.dca import DcaParams
from mimic.domain.lab.book import LabPosition
from mimic.domain.lab.candles import CandleSeries
from mimic.domain.market import MarketRules
from mimic.domain.positions import PositionSide
from mimic.domain.trailing import TrailingParams


@dataclass(frozen=True, slots=True)
class Reactions:
    """What one follower's positions react to between signals."""

    rules: MarketRules
    trailing: TrailingParams | None
    dca: DcaParams | None
    risk_cap_perc: Decimal


def on_grid(price: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    """The first price on the tick grid at or beyond `price` (upwards or downwards)."""
    ticks = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return (ticks * tick).quantize(tick)


def beyond(side: PositionSide, price: Decimal, level: Decimal) -> bool:
    """Whether `price` is at or past `level` on the position's losing side."""
    return price <= level if side is PositionSide.LONG else price >= level


def candle_time(series: CandleSeries, index: int) -> datetime:
    return datetime.fromtimestamp(series.times[index] / 1000, UTC)


def trailing_stop_level(position: LabPosition, tick: Decimal) -> Decimal | None:
    """The first traded price at which the active trailing stop is hit."""
    state = position.trailing
    if state is None or state.stop_price is None:
        return None
    return on_grid(state.stop_price, tick, up=position.side is PositionSide.SHORT)


def dca_ready_at(position: LabPosition, params: DcaParams) -> int | None:
    """Epoch ms from which the next add is allowed by its time spacing (None: no wait)."""
    history = position.dca
    if history is None or history.last_add_at is None or not params.spacing:
        return None
    return int((history.last_add_at + params.spacing).timestamp() * 1000)


def dca_level(position: LabPosition, params: DcaParams | None, tick: Decimal) -> Decimal | None:
    """The price of the next add (time spacing aside), or None when no add can come."""
    history = position.dca
    if params is None or history is None or position.dca_stopped:
        return None
    if history.adds >= params.max_adds:
        return None
    long = position.side is PositionSide.LONG
    sign = -1 if long else 1
    level = position.entry_price * (1 + sign * params.trigger_drawdown_perc / 100)
    if history.last_add_price is not None:
        spaced = history.last_add_price * (1 + sign * params.spacing_perc / 100)
        level = min(level, spaced) if long else max(level, spaced)
    return on_grid(level, tick, up=not long)


def dca_due(
    position: LabPosition, params: DcaParams | None, series: CandleSeries, index: int
) -> bool:
    if index < position.dca_blocked_before:
        return False
    if params is None:
        return False
    ready = dca_ready_at(position, params)
    return ready is None or series.times[index] >= ready


def next_hit(
    position: LabPosition, series: CandleSeries, start: int, reactions: Reactions
) -> int | None:
    """Index of the first candle from `start` on that reaches one of the position's levels."""
    long = position.side is PositionSide.LONG
    tick = reactions.rules.tick_size
    losing = [p for p in (position.stop_loss, trailing_stop_level(position, tick)) if p]
    wait_until: int | None = None
    dca = dca_level(position, reactions.dca, tick)
    if dca is not None and reactions.dca is not None:
        ready = max(start, position.dca_blocked_before)
        ready_ms = dca_ready_at(position, reactions.dca)
        if ready_ms is not None:
            ready = max(ready, series.index_at(ready_ms))
        if ready <= start:
            losing.append(dca)
        else:
            wait_until = ready
    winning = [p for p in (position.take_profit,) if p]
    state = position.trailing
    if reactions.trailing is not None and state is not None:
        if state.best_price is not None:
            winning.append(state.best_price)
        else:
            winning.append(state.activation_price(reactions.trailing))
    losing_level = (max(losing) if long else min(losing)) if losing else None
    winning_level = (min(winning) if long else max(winning)) if winning else None
    below, above = (losing_level, winning_level) if long else (winning_level, losing_level)
    found = series.next_crossing(start, below=below, above=above)
    if wait_until is not None and wait_until < len(series):
        return wait_until if found is None else min(found, wait_until)
    return found
