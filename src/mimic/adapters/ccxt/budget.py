"""A request-weight budget shared by every account that goes out through one IP.

Binance counts request weight per IP (2,400 a minute on USD-M), not per API key, so a
thousand followers behind one server share one budget; ccxt only throttles each client
instance on its own. Every ccxt client of an exchange takes its weight from one
`WeightBudget` before it sends, and a 429/418 pauses all of them until Retry-After.
"""

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


class WeightBudget:
    """Token bucket: at most `limit` weight in any `window_seconds`, bursts included.

    A bucket of capacity C refilled at r per second lets through at most C + r*T weight in
    any interval of length T, so C + r*window = limit keeps every window within the
    limit. A quarter of the limit may go out at once; the rest is spread over the window.
    """

    def __init__(
        self,
        limit: int,
        *,
        window_seconds: float = 60.0,
        burst_fraction: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or window_seconds <= 0 or not 0 < burst_fraction <= 1:
            raise ValueError("a budget needs a positive limit, window and burst fraction")
        self.limit = limit
        self.window_seconds = window_seconds
        self.capacity = max(1.0, limit * burst_fraction)
        self.rate = (limit - self.capacity) / window_seconds
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.spent = 0  # total weight let through, for tests and metrics

    async def acquire(self, weight: int) -> None:
        """Wait until `weight` fits, then take it. Waiters are served first come first."""
        if weight <= 0:
            await self._wait_out_pause()
            return
        async with self._lock:
            while True:
                await self._wait_out_pause()
                self._refill()
                # A request heavier than the bucket waits for a full bucket and goes into debt.
                needed = min(float(weight), self.capacity)
                if self._tokens >= needed:
                    self._tokens -= weight
                    self.spent += weight
                    return
                if self.rate <= 0:
                    raise ValueError("weight exceeds a budget that never refills")
                await self._sleep((needed - self._tokens) / self.rate)

    def pause(self, seconds: float) -> None:
        """Nobody sends for `seconds` (an exchange's Retry-After); the longest pause wins."""
        until = self._clock() + max(0.0, seconds)
        if until > self._paused_until:
            log.warning("request budget paused for %.1f s (rate limited by the exchange)", seconds)
            self._paused_until = until
            # Whatever the bucket held is void: the exchange says the window is used up.
            self._tokens = min(self._tokens, 0.0)

    def observe_used(self, used: int, exchange_limit: int) -> None:
        """The exchange's own count for this IP (all processes on it); slow down near it."""
        if used >= exchange_limit * 0.9:
            # Binance resets the count each wall-clock minute: wait for the next one.
            self.pause(60.0 - time.time() % 60.0)

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    async def _wait_out_pause(self) -> None:
        while (left := self._paused_until - self._clock()) > 0:
            await self._sleep(left)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now


@dataclass(frozen=True, slots=True)
class EndpointWeights:
    """Request weight per endpoint as the exchange counts it against the IP.

    Keys are (ccxt api section, HTTP method, path); a pair of numbers is the weight with
    and without a `symbol` parameter. Endpoints not listed weigh what ccxt says they cost.
    """

    table: Mapping[tuple[str, str, str], tuple[int, int]]
    used_weight_header: str | None = None  # where the exchange reports the IP's usage
    exchange_limit: int | None = None  # the exchange's own per-IP limit for that header

    def weight(self, api: str, method: str, path: str, has_symbol: bool, ccxt_cost: float) -> int:
        entry = self.table.get((api, method.upper(), path))
        if entry is None:
            return max(1, math.ceil(ccxt_cost))
        return entry[0] if has_symbol else entry[1]


# Binance USD-M, from its API documentation ("Request Weight" of each endpoint). Placing
# an order costs no IP weight: it counts against the account's order limits instead.
BINANCE_USDM_WEIGHTS = EndpointWeights(
    table={
        ("fapiPublic", "GET", "ping"): (1, 1),
        ("fapiPublic", "GET", "time"): (1, 1),
        ("fapiPublic", "GET", "exchangeInfo"): (1, 1),
        ("fapiPublic", "GET", "premiumIndex"): (1, 10),
        ("fapiPublic", "GET", "ticker/price"): (1, 2),
        ("fapiPublic", "GET", "ticker/24hr"): (1, 40),
        ("fapiPrivate", "POST", "order"): (0, 0),
        ("fapiPrivate", "GET", "order"): (1, 1),
        ("fapiPrivate", "DELETE", "order"): (1, 1),
        ("fapiPrivate", "GET", "openOrders"): (1, 40),
        ("fapiPrivate", "GET", "allOrders"): (5, 5),
        ("fapiPrivate", "POST", "algoOrder"): (0, 0),
        ("fapiPrivate", "GET", "algoOrder"): (1, 1),
        ("fapiPrivate", "DELETE", "algoOrder"): (1, 1),
        ("fapiPrivate", "GET", "openAlgoOrders"): (1, 40),
        ("fapiPrivate", "DELETE", "algoOpenOrders"): (1, 1),
        ("fapiPrivate", "POST", "leverage"): (1, 1),
        ("fapiPrivate", "POST", "marginType"): (1, 1),
        ("fapiPrivate", "GET", "positionSide/dual"): (30, 30),
        ("fapiPrivate", "GET", "leverageBracket"): (1, 1),
        ("fapiPrivateV2", "GET", "positionRisk"): (5, 5),
        ("fapiPrivateV3", "GET", "positionRisk"): (5, 5),
        ("fapiPrivateV2", "GET", "account"): (5, 5),
        ("fapiPrivateV3", "GET", "account"): (5, 5),
        ("fapiPrivateV2", "GET", "balance"): (5, 5),
        ("fapiPrivateV3", "GET", "balance"): (5, 5),
    },
    used_weight_header="x-mbx-used-weight-1m",
    exchange_limit=2400,
)

# Per-IP limits the adapter keeps to by default, per ccxt exchange id. Binance's is
# 2,400 a minute; the budget keeps a sixth of it free for the HTTP process and for other
# workers on the same IP (the used-weight header covers those too).
DEFAULT_WEIGHT_PER_MINUTE: Mapping[str, int] = {"binanceusdm": 2000}
EXCHANGE_WEIGHTS: Mapping[str, EndpointWeights] = {"binanceusdm": BINANCE_USDM_WEIGHTS}
