"""The lab's in-memory exchange account: one wallet, one-way positions, taker fees, slippage.

Fills follow the paper venue's arithmetic (average entry on adds, realized PnL on reduces,
money kept to 8 decimals, an order adding exposure needs its initial margin plus the fee
free); a market order fills at the price given, moved against the taker by the slippage.
"""

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from mimic.domain.dca import DcaHistory
from mimic.domain.orders import OrderSide
from mimic.domain.positions import Position, PositionSide
from mimic.domain.trailing import TrailingState

_SCALE = Decimal("0.00000001")


def money(value: Decimal) -> Decimal:
    return value.quantize(_SCALE, rounding=ROUND_HALF_UP)


class FillKind(enum.StrEnum):
    ENTRY = "entry"
    CLOSE = "close"  # a signal's close (also the first leg of a reversal)
    DCA = "dca"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    TRAILING_STOP = "trailing_stop"
    GUARDRAIL = "guardrail"  # the daily drawdown stop closed everything


@dataclass(frozen=True, slots=True)
class Costs:
    fee_bps: Decimal = Decimal(4)  # Binance USD-M's taker fee, as the paper venue charges
    slippage_bps: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Fill:
    at: datetime
    symbol: str
    kind: FillKind
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """A position from its entry to its close; `pnl` is net of every fee it paid."""

    symbol: str
    side: PositionSide
    opened_at: datetime
    closed_at: datetime
    quantity: Decimal  # the largest size it reached
    entry_price: Decimal
    exit_price: Decimal
    pnl: Decimal
    exit: FillKind


@dataclass(slots=True)
class LabPosition:
    symbol: str
    side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    leverage: int
    opened_at: datetime
    peak_quantity: Decimal
    pnl: Decimal = Decimal(0)  # realized minus fees so far
    tp_perc: Decimal | None = None
    sl_perc: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trailing: TrailingState | None = None
    dca: DcaHistory | None = None
    dca_stopped: bool = False
    dca_blocked_before: int = 0  # a candle index: DCA was not due at an earlier one
    next_hit: int | None = None  # candle index of the next trigger crossing; None = none

    def as_position(self, mark: Decimal) -> Position:
        return Position(
            symbol=self.symbol,
            side=self.side,
            quantity=self.quantity,
            entry_price=self.entry_price,
            leverage=self.leverage,
            mark_price=mark,
        )

    def unrealized(self, mark: Decimal) -> Decimal:
        direction = 1 if self.side is PositionSide.LONG else -1
        return (mark - self.entry_price) * self.quantity * direction


class MarginInsufficient(Exception):
    pass


@dataclass(slots=True)
class LabBook:
    wallet: Decimal
    costs: Costs
    positions: dict[str, LabPosition] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    trips: list[RoundTrip] = field(default_factory=list)

    def equity(self, marks: dict[str, Decimal]) -> Decimal:
        if not self.positions:
            return self.wallet  # every fill keeps it to 8 decimals
        return money(
            self.wallet
            + sum((p.unrealized(marks[s]) for s, p in self.positions.items()), Decimal(0))
        )

    def available(self, marks: dict[str, Decimal]) -> Decimal:
        margin = sum(
            (p.quantity * p.entry_price / p.leverage for p in self.positions.values()), Decimal(0)
        )
        return money(self.equity(marks) - margin)

    def fill_price(self, side: OrderSide, price: Decimal) -> Decimal:
        slip = self.costs.slippage_bps / 10000
        return price * (1 + slip) if side is OrderSide.BUY else price * (1 - slip)

    def open(
        self,
        symbol: str,
        side: PositionSide,
        quantity: Decimal,
        price: Decimal,
        *,
        leverage: int,
        at: datetime,
        marks: dict[str, Decimal],
        kind: FillKind = FillKind.ENTRY,
    ) -> LabPosition:
        """Opens `symbol` or adds to it; raises MarginInsufficient and changes nothing."""
        fill_price = self.fill_price(side.opening_side, price)
        fee = self._fee(quantity, fill_price)
        held = self.positions.get(symbol)
        margin_now = Decimal(0) if held is None else held.quantity * held.entry_price
        need = (margin_now + quantity * fill_price) / leverage + fee
        free = self.available(marks) + (Decimal(0) if held is None else margin_now / leverage)
        if need > free:
            raise MarginInsufficient(
                f"margin is insufficient: need {need:.2f} USDT, available {free:.2f} USDT"
            )
        self.wallet -= fee
        if held is None:
            held = LabPosition(
                symbol=symbol,
                side=side,
                quantity=quantity,
                entry_price=money(fill_price),
                leverage=leverage,
                opened_at=at,
                peak_quantity=quantity,
            )
            self.positions[symbol] = held
        else:
            total = held.quantity + quantity
            held.entry_price = money(
                (held.quantity * held.entry_price + quantity * fill_price) / total
            )
            held.quantity = total
            held.peak_quantity = max(held.peak_quantity, total)
        held.pnl -= fee
        self._record(at, symbol, kind, side.opening_side, quantity, fill_price, fee, Decimal(0))
        return held

    def close(self, symbol: str, price: Decimal, *, at: datetime, kind: FillKind) -> Decimal:
        """Closes the whole position at `price` (slipped); returns the fill price."""
        held = self.positions.pop(symbol)
        side = held.side.closing_side
        fill_price = self.fill_price(side, price)
        fee = self._fee(held.quantity, fill_price)
        realized = money(held.unrealized(fill_price))
        self.wallet += realized - fee
        held.pnl += realized - fee
        self._record(at, symbol, kind, side, held.quantity, fill_price, fee, realized)
        self.trips.append(
            RoundTrip(
                symbol=symbol,
                side=held.side,
                opened_at=held.opened_at,
                closed_at=at,
                quantity=held.peak_quantity,
                entry_price=held.entry_price,
                exit_price=fill_price,
                pnl=held.pnl,
                exit=kind,
            )
        )
        return fill_price

    def _fee(self, quantity: Decimal, price: Decimal) -> Decimal:
        return money(quantity * price * self.costs.fee_bps / 10000)

    def _record(
        self,
        at: datetime,
        symbol: str,
        kind: FillKind,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        fee: Decimal,
        realized: Decimal,
    ) -> None:
        self.fills.append(Fill(at, symbol, kind, side, quantity, money(price), fee, realized))
