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


@dataclass(slots=True)
class MasterAccount:
    """A master's own exchange account attached to a signal source, read with read-only keys.

    Binance lists trades per symbol only, so the source copies the `symbols` named here.
    """

    id: str
    source_id: str
    exchange: str
    symbols: tuple[str, ...]
    created_at: datetime
    api_key_masked: str | None = None
    # What the key allows beyond reading (trading, withdrawals), as found when attached.
    permission_warning: str | None = None

    @property
    def owner(self) -> str:
        return master_owner(self.source_id)


def master_owner(source_id: str) -> str:
    """Whom a master account's credentials are sealed for: its source, never a user id."""
    return f"source:{source_id}"


@dataclass(frozen=True, slots=True)
class MasterCursor:
    """How far one symbol of the master's trade history has been copied.

    `since` is the time of the newest fill copied, `copied_at_since` the ids of those at
    exactly that time (an exchange lists trades from a time inclusively), `position` the
    master's signed position after them.
    """

    symbol: str
    since: datetime
    copied_at_since: frozenset[str]
    position: Decimal

    def is_new(self, fill: MasterFill) -> bool:
        if fill.executed_at != self.since:
            return fill.executed_at > self.since
        return fill.trade_id not in self.copied_at_since

    def after(self, fill: MasterFill, position: Decimal) -> "MasterCursor":
        if fill.executed_at == self.since:
            return MasterCursor(
                self.symbol, self.since, self.copied_at_since | {fill.trade_id}, position
            )
        return MasterCursor(self.symbol, fill.executed_at, frozenset({fill.trade_id}), position)


def in_copy_order(fills: list[MasterFill]) -> list[MasterFill]:
    """Oldest first; within one millisecond by trade id (numeric ids as numbers)."""

    def key(fill: MasterFill) -> tuple[datetime, int, str]:
        numeric = fill.trade_id.isdigit()
        return (fill.executed_at, int(fill.trade_id) if numeric else 0, fill.trade_id)

    return sorted(fills, key=key)


def permission_warning(
    *,
    can_trade: bool | None,
    can_withdraw: bool | None,
    checked: bool,
    hedge_mode: bool | None = None,
) -> str | None:
    """What to warn the admin of about a master's key (Mimic only ever reads with it) and
    account (positions are followed one-way: one signed quantity per symbol)."""
    warnings = []
    if not checked:
        warnings.append("the key's permissions could not be checked: make sure it is read-only")
    allowed = [what for what, yes in (("trade", can_trade), ("withdraw", can_withdraw)) if yes]
    if allowed:
        warnings.append(
            f"the key can {' and '.join(allowed)}: Mimic only reads with it, use a read-only key"
        )
    if hedge_mode:
        warnings.append("the account is in hedge mode: only one-way mode is copied correctly")
    return "; ".join(warnings) or None
