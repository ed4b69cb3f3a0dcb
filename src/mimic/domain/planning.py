"""What to send to one follower account for one signal: the sizing rule lives here.

margin = equity x risk_perc / 100; notional = margin x leverage;
quantity = notional / mark price, rounded DOWN to the market's step size.

A signal copied from a master's fill (`MirroredFill`) is sized proportionally instead:
notional = equity x the master's equity fraction x the follower's multiplier, at most what
the risk cap allows (margin = notional / leverage <= equity x risk_perc / 100); a partial
close closes the master's fraction of the follower's position.
"""

from dataclasses import dataclass
from decimal import Decimal

from mimic.domain.market import MarketRules
from mimic.domain.orders import OrderLeg, OrderSide
from mimic.domain.positions import Position, PositionSide
from mimic.domain.risk import EffectiveRisk
from mimic.domain.signal import MirroredFill, SignalAction

PAUSED_REASON = "copying is paused for this follower"
NO_POSITION_REASON = "no open position to close"


def already_open_reason(side: PositionSide) -> str:
    return f"a {side} position is already open"


# Skips where the follower already is where the signal leads: nothing was missed.
NOTHING_TO_COPY_REASONS = frozenset(
    {NO_POSITION_REASON, *(already_open_reason(side) for side in PositionSide)}
)


@dataclass(frozen=True, slots=True)
class PlannedLeg:
    """One order to place, or (with `skip_reason`) one that will not be placed and why."""

    leg: OrderLeg
    side: OrderSide
    quantity: Decimal
    reduce_only: bool
    leverage: int | None = None
    skip_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Sized:
    quantity: Decimal
    notional: Decimal


def size_entry(
    *, equity: Decimal, mark_price: Decimal, rules: MarketRules, risk: EffectiveRisk
) -> Sized | str:
    """The entry quantity, or the reason there is none."""
    if equity <= 0:
        return "no equity available on the account"
    margin = equity * risk.risk_perc / 100
    return _size_notional(margin * risk.leverage, mark_price, rules, risk.leverage)


def _size_notional(
    notional: Decimal, mark_price: Decimal, rules: MarketRules, leverage: int
) -> Sized | str:
    if mark_price <= 0:
        return f"no valid mark price for {rules.symbol}"
    quantity = rules.round_quantity_down(min(notional / mark_price, rules.max_qty))
    if quantity < rules.min_qty:
        return (
            f"below minimum quantity: {quantity} < {rules.min_qty} {rules.symbol} "
            f"{_margin_times_leverage(notional, leverage)}"
        )
    order_notional = quantity * mark_price
    if order_notional < rules.min_notional:
        return (
            f"below min notional: {order_notional:.4f} < {rules.min_notional} USDT "
            f"{_margin_times_leverage(notional, leverage)}"
        )
    return Sized(quantity=quantity, notional=order_notional)


def _margin_times_leverage(notional: Decimal, leverage: int) -> str:
    """How the refused size came about (worked out only for a refusal)."""
    return f"(margin {notional / leverage:.2f} x leverage {leverage})"


def size_mirrored_entry(
    *,
    equity: Decimal,
    mark_price: Decimal,
    rules: MarketRules,
    risk: EffectiveRisk,
    equity_fraction: Decimal,
    multiplier: Decimal,
) -> Sized | str:
    """The entry quantity for the master's `equity_fraction`, or the reason there is none.

    `risk.risk_perc` is the cap here, not the size: the margin of one copied fill never
    exceeds what the follower's (capped) risk setting allows.
    """
    if equity <= 0:
        return "no equity available on the account"
    if equity_fraction <= 0:
        return "the master's fill opened nothing to copy"
    wanted = equity * equity_fraction * multiplier
    cap = equity * risk.risk_perc / 100 * risk.leverage
    return _size_notional(min(wanted, cap), mark_price, rules, risk.leverage)


def plan_account_orders(
    *,
    action: SignalAction,
    position: Position | None,
    paused: bool,
    equity: Decimal,
    mark_price: Decimal,
    rules: MarketRules,
    risk: EffectiveRisk,
    mirrored: MirroredFill | None = None,
    multiplier: Decimal = Decimal(1),
) -> list[PlannedLeg]:
    """Legs for one account, in the order they must be executed.

    A close applies to paused followers too: a position opened by copying is also closed by
    copying. A signal against an open position first closes it (reduce-only), then enters.
    A mirrored entry on the side already open adds to it, as the master did.
    """
    if action is SignalAction.CLOSE:
        if position is None:
            return [_skipped(OrderLeg.CLOSE, OrderSide.SELL, NO_POSITION_REASON)]
        if mirrored is not None and mirrored.close_fraction is not None:
            return [_close_fraction(position, mirrored.close_fraction, rules)]
        return [_close(position)]
    target = PositionSide.LONG if action is SignalAction.LONG else PositionSide.SHORT
    if paused:
        return [_skipped(OrderLeg.ENTRY, target.opening_side, PAUSED_REASON)]
    adding = mirrored is not None and mirrored.equity_fraction is not None
    if position is not None and position.side is target and not adding:
        return [_skipped(OrderLeg.ENTRY, target.opening_side, already_open_reason(target))]
    legs = [_close(position)] if position is not None and position.side is not target else []
    sized: Sized | str
    if mirrored is not None and mirrored.equity_fraction is not None:
        sized = size_mirrored_entry(
            equity=equity,
            mark_price=mark_price,
            rules=rules,
            risk=risk,
            equity_fraction=mirrored.equity_fraction,
            multiplier=multiplier,
        )
    else:
        sized = size_entry(equity=equity, mark_price=mark_price, rules=rules, risk=risk)
    if isinstance(sized, str):
        legs.append(_skipped(OrderLeg.ENTRY, target.opening_side, sized))
    else:
        legs.append(
            PlannedLeg(
                leg=OrderLeg.ENTRY,
                side=target.opening_side,
                quantity=sized.quantity,
                reduce_only=False,
                leverage=risk.leverage,
            )
        )
    return legs


def skip_account(action: SignalAction, reason: str) -> PlannedLeg:
    """The account takes no part in this signal, for `reason`."""
    if action is SignalAction.CLOSE:
        return _skipped(OrderLeg.CLOSE, OrderSide.SELL, reason)
    target = PositionSide.LONG if action is SignalAction.LONG else PositionSide.SHORT
    return _skipped(OrderLeg.ENTRY, target.opening_side, reason)


def _close(position: Position) -> PlannedLeg:
    return PlannedLeg(
        leg=OrderLeg.CLOSE,
        side=position.side.closing_side,
        quantity=position.quantity,
        reduce_only=True,
    )


def _close_fraction(position: Position, fraction: Decimal, rules: MarketRules) -> PlannedLeg:
    """Close `fraction` of the position (all of it from 1 on: nothing is left by rounding)."""
    if fraction >= 1:
        return _close(position)
    quantity = rules.round_quantity_down(position.quantity * fraction)
    if quantity <= 0 or quantity < rules.min_qty:
        return _skipped(
            OrderLeg.CLOSE,
            position.side.closing_side,
            f"{fraction} of the position is below the minimum quantity {rules.min_qty}",
        )
    return PlannedLeg(
        leg=OrderLeg.CLOSE,
        side=position.side.closing_side,
        quantity=quantity,
        reduce_only=True,
    )


def _skipped(leg: OrderLeg, side: OrderSide, reason: str) -> PlannedLeg:
    return PlannedLeg(
        leg=leg, side=side, quantity=Decimal(0), reduce_only=False, skip_reason=reason
    )
