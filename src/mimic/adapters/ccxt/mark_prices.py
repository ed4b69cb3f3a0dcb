"""Mark prices of one exchange, shared by all its accounts for a short time."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal


class MarkPrices:
    """Mark prices of one exchange, shared by all its accounts for a short time.

    Planning a signal for a thousand followers asks for the same symbol's mark price a
    thousand times; one request answers all of them (and concurrent askers wait for it).
    """

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._prices: dict[str, tuple[float, Decimal]] = {}
        self._pending: dict[str, asyncio.Future[Decimal]] = {}

    async def get(self, symbol: str, fetch: Callable[[], Awaitable[Decimal]]) -> Decimal:
        cached = self._prices.get(symbol)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        pending = self._pending.get(symbol)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Decimal] = asyncio.get_running_loop().create_future()
        self._pending[symbol] = future
        try:
            price = await fetch()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # waiters re-raise it; nobody logs it as never retrieved
            raise
        finally:
            del self._pending[symbol]
        future.set_result(price)
        self._prices[symbol] = (time.monotonic(), price)
        return price
