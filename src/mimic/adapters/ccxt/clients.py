"""ccxt clients: built once per account, pooled, sharing markets, budget and connections.

- account clients are cheap copies of one template per exchange (construction.py): ~0.05
  ms and ~5 KB each instead of ccxt's ~3-8 ms and ~0.25 MB;
- markets are loaded once per exchange by a credential-less "public" client (which also
  serves market data such as mark prices) and handed to account clients by reference
  (`set_markets_from_exchange`, or `set_markets` on older ccxt);
- account clients live in an LRU pool with an upper bound; an evicted client is closed
  as soon as no request of it is in flight;
- all clients of an exchange share one aiohttp session (one connection pool, no cookie
  jar, so nothing of one account leaks into another's requests) and one `WeightBudget`.

The only place that touches ccxt's untyped objects directly is this package's
construction, clients and gateways; everything they hand out is typed.
"""

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from mimic.adapters.ccxt.construction import ClientFactory, ExchangeSetup
from mimic.adapters.ccxt.errors import Call, translate
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import ExchangeUnavailable
from mimic.domain.market import MarketRules
from mimic.ports.exchange import CredentialVault

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AccountState:
    """What one account's client learned; lives and dies with the pooled client."""

    hedge_mode: bool | None = None
    leverage: dict[str, int] = field(default_factory=dict)
    margin_mode: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class PooledClient:
    account_id: str
    client: Any
    markets_version: int
    state: AccountState = field(default_factory=AccountState)
    in_flight: int = 0
    evicted: bool = False


class ExchangeClients:
    """Clients of one exchange: the public one (markets, market data) and a pool per account."""

    def __init__(
        self,
        setup: ExchangeSetup,
        vault: CredentialVault,
        session: aiohttp.ClientSession,
        *,
        max_clients: int,
        markets_ttl_seconds: float,
    ) -> None:
        if max_clients < 1:
            raise ValueError("max_clients must be at least 1")
        self.setup = setup
        self._vault = vault
        self._session = session
        self._max_clients = max_clients
        self._markets_ttl = markets_ttl_seconds
        self._factory = ClientFactory(setup, session)
        self.public = self._factory.public_client()
        self._markets_loaded_at: float | None = None
        self._markets_version = 0
        self._markets_lock = asyncio.Lock()
        self._swaps: dict[str, dict[str, Any]] = {}
        self._swaps_version = -1
        self._rules: dict[str, tuple[dict[str, Any], MarketRules]] = {}
        self._pool: OrderedDict[str, PooledClient] = OrderedDict()
        self._opening: dict[str, asyncio.Future[PooledClient]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.clients_built = 0
        self.clients_closed = 0

    @property
    def exchange_id(self) -> str:
        return self.setup.exchange_id

    def __len__(self) -> int:
        return len(self._pool)

    async def markets(self) -> Any:
        """The public client with markets loaded (once; again after the markets TTL)."""
        loaded = self._markets_loaded_at
        if loaded is not None and time.monotonic() - loaded < self._markets_ttl:
            return self.public
        async with self._markets_lock:
            loaded = self._markets_loaded_at
            if loaded is None or time.monotonic() - loaded >= self._markets_ttl:
                try:
                    await self.public.load_markets(reload=loaded is not None)
                except Exception as exc:
                    raise translate(exc, self.exchange_id, Call.READ) from exc
                self._markets_loaded_at = time.monotonic()
                self._markets_version += 1
        return self.public

    def market_for(self, symbol: str, public: Any) -> dict[str, Any] | None:
        """The USDT-settled (or quote-settled) perpetual swap for a domain symbol (BTCUSDT)."""
        if self._swaps_version != self._markets_version:
            self._swaps = _swap_index(public.markets)
            self._swaps_version = self._markets_version
        return self._swaps.get(symbol)

    def rules_for(
        self, symbol: str, market: dict[str, Any], build: Callable[[], MarketRules]
    ) -> MarketRules:
        """A symbol's trading rules, built once per market as loaded (every order of
        every account checks its quantity against them)."""
        cached = self._rules.get(symbol)
        if cached is not None and cached[0] is market:
            return cached[1]
        rules = build()
        self._rules[symbol] = (market, rules)
        return rules

    def lease(self, account: ExchangeAccount) -> "Lease":
        """`async with clients.lease(account) as pooled`: the account's client for the
        duration of one operation (built when missing)."""
        return Lease(self, account)

    async def discard(self, account_id: str) -> None:
        """Forget an account's client (its keys changed or were revoked)."""
        pooled = self._pool.pop(account_id, None)
        if pooled is not None:
            pooled.evicted = True
            if pooled.in_flight == 0:
                await self._close(pooled)

    async def aclose(self) -> None:
        pooled_clients = list(self._pool.values())
        self._pool.clear()
        for pooled in pooled_clients:
            pooled.evicted = True
            await self._close(pooled)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await self.public.close()
        await self._factory.aclose()

    async def _get(self, account: ExchangeAccount) -> PooledClient:
        pooled = self._pool.get(account.id)
        if pooled is not None:
            self._pool.move_to_end(account.id)
            if pooled.markets_version != self._markets_version:
                await self._share_markets(pooled)
            return pooled
        opening = self._opening.get(account.id)
        if opening is not None:
            return await asyncio.shield(opening)
        future: asyncio.Future[PooledClient] = asyncio.get_running_loop().create_future()
        self._opening[account.id] = future
        try:
            pooled = await self._open(account)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody logs it as lost
            raise
        else:
            future.set_result(pooled)
        finally:
            del self._opening[account.id]
        self._pool[account.id] = pooled
        self._evict_over_bound()
        return pooled

    async def _open(self, account: ExchangeAccount) -> PooledClient:
        public = await self.markets()
        credentials = await self._vault.credentials_for(account)
        client = self._factory.account_client(
            credentials.api_key, credentials.api_secret, credentials.password
        )
        _share(client, public)
        self.clients_built += 1
        return PooledClient(account.id, client, self._markets_version)

    async def _share_markets(self, pooled: PooledClient) -> None:
        _share(pooled.client, await self.markets())
        pooled.markets_version = self._markets_version

    def _evict_over_bound(self) -> None:
        while len(self._pool) > self._max_clients:
            _, oldest = self._pool.popitem(last=False)
            oldest.evicted = True
            if oldest.in_flight == 0:
                self._close_later(oldest)

    def _close_later(self, pooled: PooledClient) -> None:
        task = asyncio.get_running_loop().create_task(self._close(pooled))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, pooled: PooledClient) -> None:
        try:
            await pooled.client.close()
        except Exception:  # closing must never fail a caller; the session owner cleans up
            log.exception("closing the %s client of account %s failed", self.exchange_id,
                          pooled.account_id)  # fmt: skip
        self.clients_closed += 1


class Lease:
    """One operation's hold on an account's pooled client: an evicted client is closed
    once its last lease ends. (A class, not a generator context manager: every order
    goes through one.)"""

    __slots__ = ("_account", "_clients", "_pooled")

    def __init__(self, clients: ExchangeClients, account: ExchangeAccount) -> None:
        self._clients = clients
        self._account = account
        self._pooled: PooledClient | None = None

    async def __aenter__(self) -> PooledClient:
        pooled = self._pooled = await self._clients._get(self._account)
        pooled.in_flight += 1
        return pooled

    async def __aexit__(self, *exc: object) -> None:
        pooled = self._pooled
        assert pooled is not None
        pooled.in_flight -= 1
        if pooled.evicted and pooled.in_flight == 0:
            self._clients._close_later(pooled)


def _swap_index(markets: Any) -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {}
    for market in (markets or {}).values():
        if (
            market.get("swap")
            and market.get("linear")
            and market.get("settle") == market.get("quote")
            and market.get("active") is not False
        ):
            index.setdefault(f"{market['base']}{market['quote']}", market)
    return index


def _share(client: Any, public: Any) -> None:
    if public.markets is None:
        raise ExchangeUnavailable(f"{public.id}: markets are not loaded")
    if hasattr(client, "set_markets_from_exchange"):
        client.set_markets_from_exchange(public)
    else:  # ccxt before 4.5: the same markets, parsed once more per client
        client.set_markets(public.markets, public.currencies)
