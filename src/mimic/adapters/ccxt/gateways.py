"""The pool-facing side: which exchanges are served, and their clients' lifecycle."""

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import aiohttp
import ccxt.async_support as ccxt

from mimic.adapters.ccxt.binance import BinanceUsdmGateway
from mimic.adapters.ccxt.budget import DEFAULT_WEIGHT_PER_MINUTE, EXCHANGE_WEIGHTS, WeightBudget
from mimic.adapters.ccxt.clients import ExchangeClients
from mimic.adapters.ccxt.construction import ExchangeSetup, shared_session
from mimic.adapters.ccxt.errors import Call, translate
from mimic.adapters.ccxt.gateway import CcxtGateway
from mimic.adapters.ccxt.mark_prices import MarkPrices
from mimic.adapters.ccxt.price_feed import CcxtPriceFeed
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import ExchangeError, ExchangeUnavailable
from mimic.ports.exchange import CredentialVault, ExchangeGateway, ExchangeGateways
from mimic.ports.metrics import Metrics
from mimic.ports.streamed_accounts import StreamedAccounts

log = logging.getLogger(__name__)


class CcxtGateways(ExchangeGateways):
    """Gateways for follower accounts on real exchanges, through ccxt.async_support.

    Wiring: give it the CredentialVault; in production nothing else is needed. Tests and
    staging point an exchange at another host with `api_origins` ({"binanceusdm":
    "http://127.0.0.1:8123"}). It owns network resources: `await aclose()` on shutdown.
    After an account's keys change or the connection is deleted, `await discard(id)`.
    """

    _GATEWAY_CLASSES: ClassVar[Mapping[str, type[CcxtGateway]]] = {
        "binanceusdm": BinanceUsdmGateway,
    }
    _DEFAULT_OPTIONS: ClassVar[Mapping[str, Any]] = {
        "fetchCurrencies": False,  # no spot-wallet call when markets load
        "maxRetriesOnFailure": 0,  # never let ccxt resend anything
    }

    def __init__(
        self,
        vault: CredentialVault,
        *,
        api_origins: Mapping[str, str] | None = None,
        max_clients: int = 2000,
        timeout_seconds: float = 10.0,
        margin_mode: str | None = None,
        weight_per_minute: Mapping[str, int] | None = None,
        budgets: Mapping[str, WeightBudget] | None = None,
        max_connections: int = 256,
        markets_ttl_seconds: float = 3600.0,
        mark_price_ttl_seconds: float = 1.0,
        read_retries: int = 2,
        exchange_options: Mapping[str, Mapping[str, Any]] | None = None,
        metrics: Metrics | None = None,
        streamed: StreamedAccounts | None = None,
    ) -> None:
        """
        max_clients: ccxt clients kept per exchange (least recently used ones are closed).
        margin_mode: "cross" or "isolated" to set on each symbol before its first order
            (only when it differs); None leaves each follower's setting alone.
        weight_per_minute: the per-IP request budget per exchange id (Binance: 2,000 of
            its 2,400 by default); exchanges not named get 60,000 / ccxt's rateLimit.
        budgets: budgets to use as they are, per exchange id (to share one between
            several CcxtGateways of a process, or a short window in tests).
        max_connections: open HTTP connections, all exchanges and accounts together.
        read_retries: how often a read or an idempotent setting is retried after a
            network error or a short rate limit (orders never are).
        streamed: what the accounts' live streams last reported (written by their
            holders): planning reads positions from it instead of REST while it is usable.
        """
        if margin_mode not in (None, "cross", "isolated"):
            raise ValueError("margin_mode must be 'cross', 'isolated' or None")
        self._vault = vault
        self._api_origins = dict(api_origins or {})
        self._max_clients = max_clients
        self._timeout = timeout_seconds
        self._margin_mode = margin_mode
        self._weights = {**DEFAULT_WEIGHT_PER_MINUTE, **(weight_per_minute or {})}
        self._budgets = dict(budgets or {})
        self._max_connections = max_connections
        self._markets_ttl = markets_ttl_seconds
        self._mark_price_ttl = mark_price_ttl_seconds
        self._read_retries = read_retries
        self._exchange_options = dict(exchange_options or {})
        self._metrics = metrics
        self._streamed = streamed
        self._exchanges: dict[str, ExchangeClients] = {}
        self._mark_prices: dict[str, MarkPrices] = {}
        self._price_feeds: dict[str, CcxtPriceFeed] = {}
        self._supported: dict[str, int | None] = {}
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        # ccxt logs request headers (the API key) at DEBUG: keep its logger above that.
        logging.getLogger("ccxt").setLevel(max(logging.INFO, logging.getLogger("ccxt").level))

    def __repr__(self) -> str:
        return f"CcxtGateways(exchanges={sorted(self._exchanges)})"

    def supports(self, exchange: str) -> bool:
        return self._probe(exchange) is not None

    def _probe(self, exchange: str) -> int | None:
        """ccxt's rateLimit (ms) of an exchange with perpetual swaps; None for any other."""
        if exchange not in ccxt.exchanges:
            return None  # not cached: any string a client sends would stay in memory
        if exchange not in self._supported:
            self._supported[exchange] = _probe_swaps(exchange)
        return self._supported[exchange]

    async def for_account(self, account: ExchangeAccount) -> ExchangeGateway:
        if self._closed:
            raise ExchangeUnavailable("the exchange connections are shut down")
        if not self.supports(account.exchange):
            raise ExchangeUnavailable(
                f"{account.exchange} is not an exchange with perpetual futures that ccxt knows"
            )
        clients = self.clients(account.exchange)
        gateway_class = self._GATEWAY_CLASSES.get(account.exchange, CcxtGateway)
        gateway = gateway_class(
            clients,
            account,
            self._mark_prices[account.exchange],
            margin_mode=self._margin_mode,
            read_retries=self._read_retries,
            streamed=self._streamed,
        )
        # Build (or touch) the client now: bad or undecryptable keys show up here.
        try:
            async with clients.lease(account):
                pass
        except ExchangeError:
            raise
        except Exception as exc:
            raise translate(exc, account.exchange, Call.READ) from exc
        return gateway

    async def discard(self, account_id: str) -> None:
        """Close and forget an account's clients, so its next use reads the keys again."""
        for clients in self._exchanges.values():
            await clients.discard(account_id)

    async def aclose(self) -> None:
        self._closed = True
        exchanges = list(self._exchanges.values())
        self._exchanges.clear()
        for clients in exchanges:
            await clients.aclose()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def clients(self, exchange: str) -> ExchangeClients:
        """The pool of one exchange (created on first use; inside the event loop)."""
        clients = self._exchanges.get(exchange)
        if clients is None:
            if self._session is None:
                self._session = shared_session(self._max_connections)
            setup = ExchangeSetup(
                exchange_id=exchange,
                timeout_seconds=self._timeout,
                api_origin=self._api_origins.get(exchange),
                budget=self._budgets.get(exchange) or self._new_budget(exchange),
                weights=EXCHANGE_WEIGHTS.get(exchange),
                options=self._options(exchange),
            )
            clients = self._exchanges[exchange] = ExchangeClients(
                setup,
                self._vault,
                self._session,
                max_clients=self._max_clients,
                markets_ttl_seconds=self._markets_ttl,
            )
            self._mark_prices[exchange] = MarkPrices(self._mark_price_ttl)
        return clients

    def price_feed(self, exchange: str) -> CcxtPriceFeed:
        """The exchange's one price feed: its public client, shared by every follower."""
        feed = self._price_feeds.get(exchange)
        if feed is None:
            feed = self._price_feeds[exchange] = CcxtPriceFeed(self.clients(exchange))
        return feed

    def _new_budget(self, exchange: str) -> WeightBudget:
        limit = self._weights.get(exchange)
        if limit is None:
            limit = max(60, int(60_000 / (self._probe(exchange) or 50)))
        metrics = self._metrics
        if metrics is None:
            return WeightBudget(limit)
        return WeightBudget(limit, on_used=lambda used: metrics.request_weight_used(exchange, used))

    def _options(self, exchange: str) -> dict[str, Any]:
        options = dict(self._DEFAULT_OPTIONS)
        if exchange != "binanceusdm":
            # Perpetuals: ccxt's "swap" (its "future" means dated futures on most venues).
            options["defaultType"] = "swap"
        options.update(self._exchange_options.get(exchange, {}))
        return options


def _probe_swaps(exchange: str) -> int | None:
    try:
        client = getattr(ccxt, exchange)()
    except Exception:  # a broken ccxt class is simply not supported
        log.exception("ccxt could not build %s", exchange)
        return None
    if client.has.get("swap") is not True:
        return None
    return int(client.rateLimit or 50)
