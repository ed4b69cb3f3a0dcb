"""The figures a replay reports per account, computed from its book and equity samples.

- trades: positions closed (a reversal closes one and opens the next);
- net_pnl = final_equity - starting equity; final_equity marks what is still open at the
  last close; roi_perc = net_pnl / starting equity;
- max_drawdown_perc: the largest fall from a running peak of the equity samples;
- win_rate_perc: closed positions whose PnL net of fees is above zero.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from mimic.domain.lab.accounts import AccountResult

_CENTS = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class AccountSummary:
    name: str
    start_equity: Decimal
    trades: int
    net_pnl: Decimal
    roi_perc: Decimal
    max_drawdown_perc: Decimal
    final_equity: Decimal
    win_rate_perc: Decimal
    fees: Decimal
    skipped: dict[str, int]


def two_places(value: Decimal) -> Decimal:
    return value.quantize(_CENTS, rounding=ROUND_HALF_UP)


def max_drawdown_perc(equity: Sequence[Decimal]) -> Decimal:
    peak: Decimal | None = None
    worst = Decimal(0)
    for value in equity:
        if peak is None or value > peak:
            peak = value
        elif peak > 0:
            worst = max(worst, (peak - value) / peak * 100)
    return worst


def summarize(result: AccountResult) -> AccountSummary:
    trips = result.book.trips
    wins = sum(1 for trip in trips if trip.pnl > 0)
    net = result.final_equity - result.start_equity
    start = result.start_equity
    return AccountSummary(
        name=result.name,
        start_equity=two_places(start),
        trades=len(trips),
        net_pnl=two_places(net),
        roi_perc=two_places(net / start * 100) if start > 0 else Decimal(0),
        max_drawdown_perc=two_places(max_drawdown_perc([start, *result.equity])),
        final_equity=two_places(result.final_equity),
        win_rate_perc=two_places(Decimal(wins) / len(trips) * 100) if trips else Decimal(0),
        fees=two_places(sum((f.fee for f in result.book.fills), Decimal(0))),
        skipped=dict(sorted(result.skipped.items())),
    )
