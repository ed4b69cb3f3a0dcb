"""Candles of one market, and the search for the next candle that crosses a price.

The lab follows each open position from one trigger crossing to the next instead of looking
at every candle: a segment tree over the lows and highs answers "first candle at or after i
whose low is at or below x, or whose high is at or above y" in O(log n). The tree holds
floats (conversion is monotonic, so it never misses a crossing); a candle it finds is then
walked with the exact Decimal prices.
"""

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from mimic.domain.errors import InvalidField


@dataclass(frozen=True, slots=True)
class Candle:
    open_time: int  # epoch milliseconds, UTC
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


class CandleSeries:
    """One symbol's candles in time order."""

    def __init__(self, symbol: str, candles: Sequence[Candle]) -> None:
        if not candles:
            raise InvalidField("candles", f"no candles for {symbol}")
        previous = None
        for candle in candles:
            if previous is not None and candle.open_time <= previous:
                raise InvalidField(
                    "candles", f"{symbol}: candle times must increase (at {candle.open_time})"
                )
            if not (0 < candle.low <= min(candle.open, candle.close)) or candle.high < max(
                candle.open, candle.close
            ):
                raise InvalidField(
                    "candles", f"{symbol}: candle at {candle.open_time} has an impossible range"
                )
            previous = candle.open_time
        self.symbol = symbol
        self.candles = list(candles)
        self.times = [c.open_time for c in self.candles]
        # A candle's close time: the next one's open (the last one lasts as long as the one before).
        self.interval = self.times[1] - self.times[0] if len(self.times) > 1 else 60_000
        size = 1
        while size < len(self.candles):
            size *= 2
        self._size = size
        lows = [math.inf] * (2 * size)
        highs = [-math.inf] * (2 * size)
        for i, candle in enumerate(self.candles):
            lows[size + i] = float(candle.low)
            highs[size + i] = float(candle.high)
        for node in range(size - 1, 0, -1):
            lows[node] = min(lows[2 * node], lows[2 * node + 1])
            highs[node] = max(highs[2 * node], highs[2 * node + 1])
        self._lows = lows
        self._highs = highs

    def __len__(self) -> int:
        return len(self.candles)

    def index_at(self, time_ms: int) -> int:
        """Index of the first candle opening at or after `time_ms` (len(self) if none)."""
        return bisect.bisect_left(self.times, time_ms)

    def end_time(self) -> int:
        return self.times[-1] + self.interval

    def price_at(self, time_ms: int) -> Decimal:
        """The price at `time_ms`: the open of the candle opening then, else the last close."""
        index = self.index_at(time_ms)
        if index < len(self.candles) and self.times[index] == time_ms:
            return self.candles[index].open
        return self.candles[max(index - 1, 0)].close

    def next_crossing(
        self, start: int, *, below: Decimal | None, above: Decimal | None
    ) -> int | None:
        """First index >= `start` whose low <= `below` or whose high >= `above`."""
        if start >= len(self.candles) or (below is None and above is None):
            return None
        low_level = -math.inf if below is None else float(below)
        high_level = math.inf if above is None else float(above)
        lows, highs = self._lows, self._highs
        node = start + self._size
        while not (lows[node] <= low_level or highs[node] >= high_level):
            while node & 1:
                node >>= 1
            if node == 0:
                return None
            node += 1
        while node < self._size:
            node *= 2
            if not (lows[node] <= low_level or highs[node] >= high_level):
                node += 1
        return node - self._size
