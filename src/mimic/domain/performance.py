"""Fills, closed trades, balance snapshots and the figures a leaderboard ranks by.

Trades are rebuilt from the exchange's fills, not from Mimic's own orders: a position may
also be closed by an exchange-side stop-loss or take-profit.

- A trade opens when a symbol's position leaves zero and closes when it returns to zero;
  a fill that flips the position closes the trade with its closing part and opens the next
  one with the rest (its fee is split in proportion).
- entry price / exit price: quantity-weighted averages of the opening / closing fills.
- net PnL = realized PnL - every fee of the trade's fills. The realized PnL is the
  exchange's; where it reports none, (exit - entry) x quantity, signed by the side.
- ROI % = net PnL / (entry price x quantity) x 100: the return on the position's notional,
  which does not depend on the leverage chosen.
- source: the source of the signal whose order made the opening fill (a fill that flips
  the position opens the next trade with its own); none for a trade opened by hand.
- win rate % = trades with a positive net PnL / closed trades x 100.
- max drawdown % = the largest fall of equity from an earlier peak, relative to that peak.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from mimic.domain.errors import InvalidField
from mimic.domain.orders import OrderSide
from mimic.domain.positions import PositionSide
from mimic.domain.symbols import normalize_symbol


@dataclass(frozen=True, slots=True)
class AccountFill:
    """One execution on the exchange, with what it realized and cost."""

    fill_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal | None  # None: not reported; worked out from the entry price
    executed_at: datetime
    # The order it executed, where the venue lists it: tells a reconciliation whose order
    # it was, and a trade which signal opened it.
    order_id: str | None = None
    client_order_id: str | None = None
    # The signal source of the order, when Mimic placed it for a signal (read back from
    # storage; None for manual, external, panic and guardrail orders).
    source_id: str | None = None


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    account_id: str
    symbol: str
    side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    realized_pnl: Decimal
    fees: Decimal
    opened_at: datetime
    closed_at: datetime
    source_id: str | None = None  # the source of the signal whose order opened the trade

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees

    @property
    def roi_perc(self) -> Decimal:
        return roi_perc(self.net_pnl, self.entry_price * self.quantity)


@dataclass(frozen=True, slots=True)
class TradeFilters:
    """What a trade history shows: one symbol or all, one side or both, one source or all."""

    symbol: str | None = None
    side: PositionSide | None = None
    source_id: str | None = None

    @classmethod
    def parse(
        cls, symbol: str | None, side: str | None, source_id: str | None = None
    ) -> "TradeFilters":
        chosen = None
        if side:
            try:
                chosen = PositionSide(side)
            except ValueError:
                raise InvalidField("side", "must be long or short") from None
        return cls(
            symbol=normalize_symbol(symbol) if symbol else None,
            side=chosen,
            source_id=source_id or None,
        )

    def admits(self, trade: ClosedTrade) -> bool:
        return (
            (self.symbol is None or trade.symbol == self.symbol)
            and (self.side is None or trade.side is self.side)
            and (self.source_id is None or trade.source_id == self.source_id)
        )


@dataclass(frozen=True, slots=True)
class BalanceSnapshot:
    """An account's balance at the start of one hour (one per account and hour)."""

    account_id: str
    hour: datetime
    currency: str
    wallet_balance: Decimal
    equity: Decimal
    taken_at: datetime


def hour_of(moment: datetime) -> datetime:
    """The start of the hour `moment` falls in."""
    return moment.replace(minute=0, second=0, microsecond=0)


def roi_perc(pnl: Decimal, invested: Decimal) -> Decimal:
    """pnl / invested x 100; zero when nothing was invested."""
    if invested <= 0:
        return Decimal(0)
    return pnl / invested * 100


def win_rate_perc(trades: Sequence[ClosedTrade]) -> Decimal:
    if not trades:
        return Decimal(0)
    wins = sum(1 for t in trades if t.net_pnl > 0)
    return Decimal(wins) / len(trades) * 100


def max_drawdown_perc(equities: Iterable[Decimal]) -> Decimal:
    """Largest (peak - later value) / peak x 100 over the series; 0 for a rising one."""
    peak: Decimal | None = None
    worst = Decimal(0)
    for value in equities:
        if peak is None or value > peak:
            peak = value
        elif peak > 0:
            worst = max(worst, (peak - value) / peak * 100)
    return worst


@dataclass(slots=True)
class _Open:
    side: PositionSide
    quantity: Decimal  # still open
    opened_quantity: Decimal
    entry_cost: Decimal  # sum of quantity x price of the opening fills
    exit_value: Decimal  # sum of quantity x price of the closing fills
    closed_quantity: Decimal
    realized: Decimal
    fees: Decimal
    opened_at: datetime
    source_id: str | None  # the opening fill's


def closed_trades(account_id: str, fills: Iterable[AccountFill]) -> list[ClosedTrade]:
    """Closed trades, oldest first, from an account's fills (any order; ties by fill id).

    A fill that reduces a position opened before the first fill seen is ignored: its
    entry is unknown.
    """
    ordered = sorted(fills, key=lambda f: (f.executed_at, f.fill_id))
    open_by_symbol: dict[str, _Open] = {}
    trades: list[ClosedTrade] = []
    for fill in ordered:
        current = open_by_symbol.get(fill.symbol)
        side = PositionSide.LONG if fill.side is OrderSide.BUY else PositionSide.SHORT
        if current is None:
            if fill.realized_pnl:
                continue  # closes a position opened before the history starts
            open_by_symbol[fill.symbol] = _opened(side, fill.quantity, fill, fill.fee)
            continue
        if current.side is side:
            current.quantity += fill.quantity
            current.opened_quantity += fill.quantity
            current.entry_cost += fill.quantity * fill.price
            current.fees += fill.fee
            continue
        closing = min(fill.quantity, current.quantity)
        rest = fill.quantity - closing
        closing_fee = fill.fee * closing / fill.quantity
        current.quantity -= closing
        current.closed_quantity += closing
        current.exit_value += closing * fill.price
        if fill.realized_pnl is None:
            entry = current.entry_cost / current.opened_quantity
            direction = 1 if current.side is PositionSide.LONG else -1
            current.realized += (fill.price - entry) * closing * direction
        else:
            current.realized += fill.realized_pnl
        current.fees += closing_fee
        if current.quantity == 0:
            trades.append(_closed(account_id, fill.symbol, current, fill.executed_at))
            del open_by_symbol[fill.symbol]
            if rest > 0:
                open_by_symbol[fill.symbol] = _opened(side, rest, fill, fill.fee - closing_fee)
    return trades


def _opened(side: PositionSide, quantity: Decimal, fill: AccountFill, fee: Decimal) -> _Open:
    return _Open(
        side=side,
        quantity=quantity,
        opened_quantity=quantity,
        entry_cost=quantity * fill.price,
        exit_value=Decimal(0),
        closed_quantity=Decimal(0),
        realized=Decimal(0),
        fees=fee,
        opened_at=fill.executed_at,
        source_id=fill.source_id,
    )


def _closed(account_id: str, symbol: str, trade: _Open, closed_at: datetime) -> ClosedTrade:
    return ClosedTrade(
        account_id=account_id,
        symbol=symbol,
        side=trade.side,
        quantity=trade.closed_quantity,
        entry_price=trade.entry_cost / trade.opened_quantity,
        exit_price=trade.exit_value / trade.closed_quantity,
        realized_pnl=trade.realized,
        fees=trade.fees,
        opened_at=trade.opened_at,
        closed_at=closed_at,
        source_id=trade.source_id,
    )


@dataclass(frozen=True, slots=True)
class Standing:
    """One follower's line on the leaderboard for one period."""

    username: str
    roi_perc: Decimal
    pnl: Decimal
    win_rate_perc: Decimal
    max_drawdown_perc: Decimal
    trades: int


def standing(username: str, trades: Sequence[ClosedTrade], equities: Sequence[Decimal]) -> Standing:
    """`trades` closed in the period; `equities` the follower's equity, hour by hour.

    ROI is the period's net PnL over the equity at the period's first snapshot.
    """
    pnl = sum((t.net_pnl for t in trades), Decimal(0))
    start = equities[0] if equities else Decimal(0)
    return Standing(
        username=username,
        roi_perc=roi_perc(pnl, start),
        pnl=pnl,
        win_rate_perc=win_rate_perc(trades),
        max_drawdown_perc=max_drawdown_perc(equities),
        trades=len(trades),
    )
