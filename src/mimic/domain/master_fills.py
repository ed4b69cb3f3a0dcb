"""A master's own exchange account as a signal source: each of their fills becomes a signal.

The translation is pure: (the master's position before, the fill, the master's equity) ->
what the fill did to the position and the signal that copies it. Whatever reads the fills
(REST polling of the trade history today, an account event stream later) feeds it alike.

Sizing is proportional. A fill that opens or adds carries the fraction of the master's
equity its notional represents; each follower enters that fraction of their own equity
times their multiplier (domain.planning). A fill that reduces carries the fraction of the
master's position it closed; followers close the same fraction of theirs. A flip closes the
whole position and opens the rest on the other side, as one signal: a follower's opposite
position is closed before the entry, as for any signal against an open position.

The master's position is signed (long > 0, short < 0); one-way mode is assumed.
"""

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from mimic.domain.orders import OrderSide
from mimic.domain.signal import MirroredFill, SignalAction, SignalParams

# Fractions are stored exactly (NUMERIC(38, 18) on Postgres): 12 places say more than any
# follower's quantity step can use, and the same value is read back on every database.
FRACTION_PLACES = Decimal("1e-12")


class MasterMove(enum.StrEnum):
    OPEN = "open"
    INCREASE = "increase"
    REDUCE = "reduce"
    CLOSE = "close"
    FLIP = "flip"


@dataclass(frozen=True, slots=True)
class MasterFill:
    """One execution on the master's account, as the exchange reported it."""

    trade_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    executed_at: datetime

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side is OrderSide.BUY else -self.quantity


@dataclass(frozen=True, slots=True)
class TranslatedFill:
    """What one fill did: the move, the master's position after it, and its signal (None
    with `skip_reason` when it cannot be copied)."""

    move: MasterMove
    position_after: Decimal
    signal: SignalParams | None
    skip_reason: str | None = None


def translate_fill(position_before: Decimal, fill: MasterFill, equity: Decimal) -> TranslatedFill:
    """The signal that copies `fill`, given the master's signed position before it and
    their equity (in the settlement currency)."""
    if fill.quantity <= 0:
        raise ValueError(f"fill {fill.trade_id} has no quantity")
    delta = fill.signed_quantity
    after = position_before + delta
    before_size = abs(position_before)
    if position_before == 0 or (position_before > 0) == (delta > 0):
        move = MasterMove.OPEN if position_before == 0 else MasterMove.INCREASE
        return _entry(move, after, fill, fill.quantity, equity)
    if fill.quantity < before_size:
        fraction = (fill.quantity / before_size).quantize(FRACTION_PLACES, rounding=ROUND_DOWN)
        return TranslatedFill(MasterMove.REDUCE, after, _close(fill, fraction))
    if fill.quantity == before_size:
        return TranslatedFill(MasterMove.CLOSE, after, _close(fill, Decimal(1)))
    return _entry(MasterMove.FLIP, after, fill, fill.quantity - before_size, equity)


def _entry(
    move: MasterMove, after: Decimal, fill: MasterFill, opened: Decimal, equity: Decimal
) -> TranslatedFill:
    action = SignalAction.LONG if fill.side is OrderSide.BUY else SignalAction.SHORT
    if equity <= 0:
        # A flip still closes: the followers' positions must not outlive the master's.
        closing = _close(fill, Decimal(1)) if move is MasterMove.FLIP else None
        return TranslatedFill(move, after, closing, "the master's equity is not positive")
    fraction = (opened * fill.price / equity).quantize(FRACTION_PLACES, rounding=ROUND_DOWN)
    signal = SignalParams(
        symbol=fill.symbol,
        action=action,
        external_id=fill.trade_id,
        mirrored=MirroredFill(equity_fraction=fraction),
    )
    return TranslatedFill(move, after, signal)


def _close(fill: MasterFill, fraction: Decimal) -> SignalParams:
    return SignalParams(
        symbol=fill.symbol,
        action=SignalAction.CLOSE,
        external_id=fill.trade_id,
        mirrored=MirroredFill(close_fraction=fraction),
    )


def master_signal_id(source_id: str, trade_id: str) -> str:
    """The same master fill always makes the same signal id (32 hex characters), so a
    fill read twice collapses into one signal even before its dedupe key is compared."""
    return hashlib.sha256(f"{source_id}:{trade_id}".encode()).hexdigest()[:32]


def master_dedupe_key(trade_id: str) -> str:
    """Never expires, as an explicit webhook id."""
    return f"trade:{trade_id}"
