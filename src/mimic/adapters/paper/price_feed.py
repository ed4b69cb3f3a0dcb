"""The paper exchange's price board as a price feed (every symbol is always followed)."""

from collections.abc import Collection
from decimal import Decimal

from mimic.adapters.paper.venue import PaperVenue
from mimic.ports.protection import PriceFeed


class PaperPriceFeed(PriceFeed):
    def __init__(self, venue: PaperVenue) -> None:
        self._venue = venue

    async def subscribe(self, symbols: Collection[str]) -> None:
        """Nothing to do: one read of the board answers every symbol."""

    async def latest(self, symbols: Collection[str]) -> dict[str, Decimal]:
        board = await self._venue.mark_prices()
        return {symbol: board[symbol] for symbol in symbols if symbol in board}
