"""One account's requests on its pooled ccxt client: retried when that is safe, and
every failure translated to a domain error (errors.py)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from mimic.adapters.ccxt.clients import ExchangeClients, PooledClient
from mimic.adapters.ccxt.errors import Call, translate
from mimic.adapters.ccxt.mark_prices import MarkPrices
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import (
    AuthRejected,
    ExchangeError,
    ExchangeUnavailable,
    RateLimited,
    UnknownSymbol,
)
from mimic.ports.streamed_accounts import StreamedAccounts

log = logging.getLogger(__name__)

T = TypeVar("T")

# A read is retried after a rate limit only when the wait is short; otherwise the caller
# (the sweeper) comes back later.
_MAX_RETRY_WAIT = 5.0


class AccountCalls:
    """The plumbing under `CcxtGateway`: one follower account on one exchange's pool."""

    def __init__(
        self,
        clients: ExchangeClients,
        account: ExchangeAccount,
        mark_prices: MarkPrices,
        *,
        margin_mode: str | None,
        read_retries: int,
        streamed: StreamedAccounts | None = None,
    ) -> None:
        """`streamed`: what the accounts' live streams report, read instead of REST where
        the exchange's gateway knows how (Binance)."""
        self._clients = clients
        self.account = account
        self._mark_prices = mark_prices
        self._margin_mode = margin_mode
        self._read_retries = read_retries
        self._streamed = streamed
        # The exchange's time of each order's answer, by client id, for `streamed`.
        self._answered_ms: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.exchange!r}, account={self.account.id!r})"

    @property
    def exchange(self) -> str:
        return self._clients.exchange_id

    @property
    def receive_window(self) -> timedelta:
        """Without a receive window of its own, an exchange is given as long as the client
        waits for an answer."""
        return timedelta(seconds=self._clients.setup.timeout_seconds)

    async def _call(self, call: Call, operation: Callable[[PooledClient], Awaitable[T]]) -> T:
        """Run one operation on the account's pooled client; translate whatever it raises.

        Reads and idempotent settings are retried a few times (network errors, short
        rate limits); orders never are.
        """
        attempts = 1 if call is Call.ORDER else 1 + self._read_retries
        for attempt in range(attempts):
            try:
                async with self._clients.lease(self.account) as pooled:
                    return await operation(pooled)
            except Exception as exc:
                error = translate(exc, self.exchange, call)
                if isinstance(error, AuthRejected):
                    # Next time the keys are read again (rotated, re-entered).
                    await self._clients.discard(self.account.id)
                wait = _retry_wait(error, attempt)
                if attempt + 1 >= attempts or wait is None:
                    if error is exc:
                        raise
                    raise error from exc
                log.info("%s: retrying after %s (%.1f s)", self, error.reason, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _public_call(self, operation: Callable[[Any], Awaitable[T]]) -> T:
        for attempt in range(1 + self._read_retries):
            try:
                public = await self._clients.markets()
                return await operation(public)
            except Exception as exc:
                error = translate(exc, self.exchange, Call.READ)
                wait = _retry_wait(error, attempt)
                if attempt >= self._read_retries or wait is None:
                    if error is exc:
                        raise
                    raise error from exc
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _market(self, symbol: str) -> dict[str, Any]:
        try:
            public = await self._clients.markets()
        except ExchangeError:
            raise
        except Exception as exc:
            raise translate(exc, self.exchange, Call.READ) from exc
        market = self._clients.market_for(symbol, public)
        if market is None:
            raise UnknownSymbol(f"{self.exchange}: {symbol} has no USDT perpetual swap market")
        return market


def _retry_wait(error: ExchangeError, attempt: int) -> float | None:
    if isinstance(error, RateLimited):
        return error.retry_after_seconds if error.retry_after_seconds <= _MAX_RETRY_WAIT else None
    if isinstance(error, ExchangeUnavailable):
        return 0.25 * 2.0**attempt
    return None
