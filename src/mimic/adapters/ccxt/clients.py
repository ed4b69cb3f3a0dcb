"""ccxt clients: built once per account, pooled, sharing markets, budget and connections.

What a client costs (ccxt 4.5, measured): ~3 ms of CPU and ~0.25 MB to construct, before
markets; `load_markets` is one request and a few MB per exchange. So:

- markets are loaded once per exchange by a credential-less "public" client (which also
  serves market data such as mark prices) and handed to account clients by reference
  (`set_markets_from_exchange`, or `set_markets` on older ccxt);
- account clients live in an LRU pool with an upper bound; an evicted client is closed
  as soon as no request of it is in flight;
- all clients of an exchange share one aiohttp session (one connection pool, no cookie
  jar, so nothing of one account leaks into another's requests) and one `WeightBudget`.

The only place that touches ccxt's untyped objects directly is this module and the
gateways; everything they hand out is typed.
"""

import asyncio
import functools
import logging
import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import ccxt.async_support as ccxt
import certifi

from mimic.adapters.ccxt.budget import EndpointWeights, WeightBudget
from mimic.adapters.ccxt.errors import Call, retry_after_seconds, translate
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import ExchangeUnavailable
from mimic.ports.exchange import CredentialVault

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExchangeSetup:
    """How clients of one exchange are built."""

    exchange_id: str
    timeout_seconds: float
    api_origin: str | None  # e.g. http://127.0.0.1:8123: every API URL goes to this host
    budget: WeightBudget
    weights: EndpointWeights | None
    options: Mapping[str, Any]


def _budgeted_class(base: Any) -> Any:
    """A subclass of a ccxt exchange class that spends the shared budget on each request.

    Built with `type()` because ccxt ships no types; the overrides are ccxt's documented
    extension points (`fetch2`, `handle_errors`, `handle_http_status_code`).
    """

    async def fetch2(
        self: Any,
        path: str,
        api: Any = "public",
        method: str = "GET",
        params: Any = None,
        config: Any = None,
    ) -> Any:
        params = {} if params is None else params
        config = {} if config is None else config
        section = api[0] if isinstance(api, list) else str(api)
        weights: EndpointWeights | None = self.mimic_weights
        ccxt_cost = float(config.get("cost", 1)) if isinstance(config, dict) else 1.0
        has_symbol = isinstance(params, dict) and "symbol" in params
        if weights is not None:
            weight = weights.weight(section, method, path, has_symbol, ccxt_cost)
        else:
            weight = max(1, round(ccxt_cost))
        await self.mimic_budget.acquire(weight)
        return await base.fetch2(self, path, api, method, params, config)

    def handle_errors(
        self: Any,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Any,
        body: str,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> Any:
        weights: EndpointWeights | None = self.mimic_weights
        budget: WeightBudget = self.mimic_budget
        retry_after = None
        if code in (418, 429):
            retry_after = retry_after_seconds(headers)
            # The limit is the IP's: every client of this exchange waits, not only this one.
            budget.pause(retry_after if retry_after is not None else 1.0)
        elif weights is not None and weights.used_weight_header and weights.exchange_limit:
            used = _header(headers, weights.used_weight_header)
            if used is not None and used.isdigit():
                budget.observe_used(int(used), weights.exchange_limit)
        try:
            return base.handle_errors(
                self, code, reason, url, method, headers, body, response, request_headers,
                request_body,
            )  # fmt: skip
        except ccxt.BaseError as exc:
            exc.mimic_http_status = code
            exc.mimic_retry_after = retry_after
            raise

    def handle_http_status_code(
        self: Any, code: int, reason: str, url: str, method: str, body: str
    ) -> Any:
        try:
            return base.handle_http_status_code(self, code, reason, url, method, body)
        except ccxt.BaseError as exc:
            exc.mimic_http_status = code
            raise

    return type(
        f"Budgeted{base.__name__}",
        (base,),
        {
            "fetch2": fetch2,
            "handle_errors": handle_errors,
            "handle_http_status_code": handle_http_status_code,
        },
    )


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if str(key).lower() == name:
            return str(value)
    return None


_CLASSES: dict[str, Any] = {}


def exchange_class(exchange_id: str) -> Any:
    cls = _CLASSES.get(exchange_id)
    if cls is None:
        cls = _CLASSES[exchange_id] = _budgeted_class(getattr(ccxt, exchange_id))
    return cls


def _rewrite_origin(urls: Any, origin: str) -> Any:
    """Every URL in ccxt's `urls['api']` (nested or not), moved to `origin`, path kept."""
    if isinstance(urls, dict):
        return {key: _rewrite_origin(value, origin) for key, value in urls.items()}
    if isinstance(urls, str) and "://" in urls:
        parts = urlsplit(urls)
        return origin.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    return urls


def build_client(
    setup: ExchangeSetup,
    session: aiohttp.ClientSession,
    *,
    api_key: str | None = None,
    secret: str | None = None,
    password: str | None = None,
) -> Any:
    config: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": int(setup.timeout_seconds * 1000),
        "options": dict(setup.options),
        "session": session,
    }
    if api_key is not None:
        config["apiKey"] = api_key
        config["secret"] = secret
    if password is not None:
        config["password"] = password
    client = exchange_class(setup.exchange_id)(config)
    client.mimic_budget = setup.budget
    client.mimic_weights = setup.weights
    # The session is shared and closed by its owner: closing a client has nothing to drain.
    client.timeout_on_exit = 0
    client.ssl_context = tls_context()
    if setup.api_origin is not None:
        client.urls["api"] = _rewrite_origin(client.urls["api"], setup.api_origin)
    _map_derivative_error_codes(client)
    return client


def _map_derivative_error_codes(client: Any) -> None:
    """Make ccxt map USD-M error codes whatever host it talks to.

    Binance-family ccxt classes pick the per-market code table (`exceptions['linear']`)
    by the request's hostname (fapi.binance.com); pointed at any other host (a stub, a
    proxy) they fall back to the spot table and -2019, -4164, ... come out as a bare
    ExchangeError. These clients only trade USD-M, so the linear table goes first.
    """
    exceptions = client.exceptions
    linear = exceptions.get("linear") if isinstance(exceptions, dict) else None
    if isinstance(linear, dict):
        for kind in ("exact", "broad"):
            if isinstance(linear.get(kind), dict):
                exceptions[kind] = {**exceptions.get(kind, {}), **linear[kind]}


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client: ccxt would load the CA bundle per instance
    (15 ms of CPU and its memory, each time) even when it never opens a connection."""
    return ssl.create_default_context(cafile=certifi.where())


def shared_session(max_connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=max_connections, ssl=tls_context(), ttl_dns_cache=300)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


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
        self.public = build_client(setup, session)
        self._markets_loaded_at: float | None = None
        self._markets_version = 0
        self._markets_lock = asyncio.Lock()
        self._swaps: dict[str, dict[str, Any]] = {}
        self._swaps_version = -1
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

    @asynccontextmanager
    async def lease(self, account: ExchangeAccount) -> AsyncIterator[PooledClient]:
        """The account's client for the duration of one operation (built when missing)."""
        pooled = await self._get(account)
        pooled.in_flight += 1
        try:
            yield pooled
        finally:
            pooled.in_flight -= 1
            if pooled.evicted and pooled.in_flight == 0:
                self._close_later(pooled)

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
        client = build_client(
            self.setup,
            self._session,
            api_key=credentials.api_key,
            secret=credentials.api_secret,
            password=credentials.password,
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
