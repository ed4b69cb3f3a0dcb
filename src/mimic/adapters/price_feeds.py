"""Price feeds by exchange id, and a replay feed of recorded candles for simulations."""

import csv
from collections.abc import Callable, Collection, Iterator, Mapping
from decimal import Decimal
from pathlib import Path

from mimic.ports.exchange import PaperMarket
from mimic.ports.protection import PriceFeed, PriceFeeds


class PriceFeedsByExchange(PriceFeeds):
    """Fixed feeds by exchange id; `others` answers for the rest (live exchanges)."""

    def __init__(
        self,
        feeds: Mapping[str, PriceFeed],
        others: Callable[[str], PriceFeed | None] = lambda _: None,
    ) -> None:
        self._feeds = dict(feeds)
        self._others = others

    def for_exchange(self, exchange: str) -> PriceFeed | None:
        return self._feeds.get(exchange) or self._others(exchange)


def candle_prices(path: Path) -> Iterator[Decimal]:
    """Prices within each candle of a CSV (timestamp_ms, open, high, low, close, ...):
    open, the nearer extreme first (a rising candle dips first), the other, then close."""
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            o, h, low, c = (Decimal(row[k]) for k in ("open", "high", "low", "close"))
            yield from ([o, low, h, c] if c >= o else [o, h, low, c])


class ReplayPriceFeed(PriceFeed):
    """Replays recorded prices of one symbol, one step per `advance()`.

    With a `board` (the paper exchange), each step also becomes the paper mark price, so
    native TP/SL orders fire as they would have on that day.
    """

    def __init__(
        self, symbol: str, prices: Iterator[Decimal], board: PaperMarket | None = None
    ) -> None:
        self.symbol = symbol
        self._prices = prices
        self._board = board
        self._current: Decimal | None = None

    @classmethod
    def from_csv(
        cls, symbol: str, path: Path, board: PaperMarket | None = None
    ) -> "ReplayPriceFeed":
        return cls(symbol, candle_prices(path), board)

    async def advance(self) -> Decimal | None:
        """The next recorded price (None once the recording ends)."""
        price = next(self._prices, None)
        if price is None:
            return None
        self._current = price
        if self._board is not None:
            await self._board.set_mark_price(self.symbol, price)
        return price

    async def subscribe(self, symbols: Collection[str]) -> None:
        """A recording has the one symbol it has."""

    async def latest(self, symbols: Collection[str]) -> dict[str, Decimal]:
        if self._current is None or self.symbol not in symbols:
            return {}
        return {self.symbol: self._current}
