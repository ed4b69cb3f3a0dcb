"""Mark prices of a ccxt exchange for the position monitor, through the public client.

One poll answers every subscribed symbol for every follower: `fetch_mark_prices` (Binance:
GET /fapi/v1/premiumIndex, every symbol in one request) where the exchange has it, else
`fetch_tickers` for the subscribed symbols. Answers within `max_age_seconds` of the last
poll reuse it, and concurrent askers wait for the one poll in flight. A websocket
subscription (ccxt.pro `watch_mark_prices`) would fit the same port; polling is used
because the monitor runs in rounds anyway.
"""

import asyncio
import time
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from mimic.adapters.ccxt.clients import ExchangeClients
from mimic.adapters.ccxt.errors import Call, translate
from mimic.adapters.ccxt.values import to_decimal
from mimic.domain.errors import ExchangeError
from mimic.ports.protection import PriceFeed


class CcxtPriceFeed(PriceFeed):
    def __init__(self, clients: ExchangeClients, *, max_age_seconds: float = 1.0) -> None:
        self._clients = clients
        self._max_age = max_age_seconds
        self._symbols: set[str] = set()
        self._prices: dict[str, Decimal] = {}
        self._polled_at: float | None = None
        self._lock = asyncio.Lock()
        self.polls = 0

    async def subscribe(self, symbols: Collection[str]) -> None:
        new = set(symbols) - self._symbols
        if new:
            self._symbols |= new
            self._polled_at = None  # the next answer includes them

    async def latest(self, symbols: Collection[str]) -> dict[str, Decimal]:
        if self._stale():
            async with self._lock:
                if self._stale():
                    self._prices = await self._poll()
                    self._polled_at = time.monotonic()
        return {s: self._prices[s] for s in symbols if s in self._prices}

    def _stale(self) -> bool:
        return self._polled_at is None or time.monotonic() - self._polled_at >= self._max_age

    async def _poll(self) -> dict[str, Decimal]:
        if not self._symbols:
            return {}
        self.polls += 1
        try:
            public = await self._clients.markets()
            by_ccxt_symbol = {
                market["symbol"]: symbol
                for symbol in sorted(self._symbols)
                if (market := self._clients.market_for(symbol, public)) is not None
            }
            wanted = list(by_ccxt_symbol)
            if not wanted:
                return {}
            if public.has.get("fetchMarkPrices"):
                tickers = await public.fetch_mark_prices(wanted)
            else:
                tickers = await public.fetch_tickers(wanted)
        except ExchangeError:
            raise
        except Exception as exc:
            raise translate(exc, self._clients.exchange_id, Call.READ) from exc
        prices = {}
        for ccxt_symbol, ticker in tickers.items():
            symbol = by_ccxt_symbol.get(ccxt_symbol)
            price = _mark(ticker)
            if symbol is not None and price is not None:
                prices[symbol] = price
        return prices


def _mark(ticker: dict[str, Any]) -> Decimal | None:
    info = ticker.get("info") or {}
    raw = ticker.get("markPrice") or info.get("markPrice") or ticker.get("last")
    try:
        return to_decimal(raw)
    except ValueError:
        return None
