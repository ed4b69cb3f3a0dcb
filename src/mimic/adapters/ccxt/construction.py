"""How ccxt clients are built: cheaply, since a fan-out may need a thousand at once.

ccxt's constructor costs ~3-8 ms of CPU and ~0.25 MB per instance (it deep-merges the
exchange's description and copies ~3,000 names to camelCase), all of it the same for
every account of an exchange. So one template client is built per exchange the ccxt way,
and each account's client is a shallow copy of it (~0.05 ms, ~5 KB) with its own
credentials, its own options and its own (empty) caches: the description, API tables,
error tables and the markets are shared by reference. ccxt's own per-instance rate
limiter is off: every request spends the exchange's shared `WeightBudget` instead
(`fetch2` below), and goes out on the session every client shares (`fetch`), ccxt still
signing it and translating the answer.
"""

import copy
import functools
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import ccxt.async_support as ccxt
import certifi
import yarl

from mimic.adapters.ccxt.budget import EndpointWeights, WeightBudget
from mimic.adapters.ccxt.errors import retry_after_seconds


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

    Built with `type()` because ccxt ships no types; the overrides are the methods every
    ccxt request passes through (`fetch2`, its transport `fetch`, `handle_errors`,
    `handle_http_status_code`).
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
        # ccxt's own fetch2 adds to this its rate limiter (off: the budget governs), a
        # retry loop (Mimic never lets ccxt resend) and request bookkeeping nobody reads.
        request = self.sign(path, api, method, params)
        return await self.fetch(request["url"], request["method"], request["headers"],
                                request["body"])  # fmt: skip

    async def fetch(
        self: Any, url: str, method: str = "GET", headers: Any = None, body: Any = None
    ) -> Any:
        """ccxt's transport on the shared session, without what Mimic never configures
        (proxies, verbose logs, the last response kept on the client): the answer goes
        through ccxt's own JSON parsing and error translation, and a failure to reach
        the exchange becomes the ccxt error its own `fetch` raises."""
        request_headers = self.prepare_request_headers(headers)
        try:
            async with self.session.request(
                method,
                yarl.URL(url, encoded=True),
                data=body.encode() if body else None,
                headers=request_headers,
                timeout=self.mimic_timeout,
            ) as response:
                # JSON is UTF-8 (RFC 8259): no charset sniffing per answer.
                text = (await response.read()).decode("utf-8", "replace").strip()
                status, reason = response.status, response.reason
                raw_headers = response.headers
        except socket.gaierror as exc:
            raise ccxt.ExchangeNotAvailable(f"{self.id} {method} {url}") from exc
        except TimeoutError as exc:
            raise ccxt.RequestTimeout(f"{self.id} {method} {url}") from exc
        except aiohttp.ClientConnectionError as exc:
            raise ccxt.ExchangeNotAvailable(f"{self.id} {method} {url}") from exc
        except aiohttp.ClientError as exc:
            raise ccxt.ExchangeError(f"{self.id} {method} {url}") from exc
        answer_headers = {key: ", ".join(raw_headers.getall(key)) for key in raw_headers}
        parsed = self.parse_json(text)
        self.handle_errors(status, reason, url, method, answer_headers, text, parsed,
                           request_headers, body)  # fmt: skip
        self.handle_http_status_code(status, reason, url, method, text)
        return text if parsed is None else parsed

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
            "fetch": fetch,
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


def rewrite_origin(urls: Any, origin: str) -> Any:
    """Every URL in ccxt's `urls['api']` (nested or not), moved to `origin`, path kept."""
    if isinstance(urls, dict):
        return {key: rewrite_origin(value, origin) for key, value in urls.items()}
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
        "enableRateLimit": False,  # the shared budget governs (fetch2)
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
    client.mimic_timeout = _request_timeout(setup.timeout_seconds)
    # The session is shared and closed by its owner: closing a client has nothing to drain.
    client.timeout_on_exit = 0
    client.ssl_context = tls_context()
    if setup.api_origin is not None:
        client.urls["api"] = rewrite_origin(client.urls["api"], setup.api_origin)
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


def _request_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """ccxt's own bounds: the whole request, the connect and every read (a stale
    keep-alive connection must not hang a request until the total runs out)."""
    return aiohttp.ClientTimeout(total=seconds, sock_connect=seconds, sock_read=seconds)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client: ccxt would load the CA bundle per instance
    (15 ms of CPU and its memory, each time) even when it never opens a connection."""
    return ssl.create_default_context(cafile=certifi.where())


def shared_session(max_connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=max_connections, ssl=tls_context(), ttl_dns_cache=300)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


class ClientTemplate:
    """A ccxt client that accounts' clients are cloned from (see the module's docstring)."""

    def __init__(self, template: Any) -> None:
        self.template = template
        # Containers ccxt fills as it goes (caches of balances, orders, ...): each clone
        # starts with empty ones of its own, never the template's.
        self._state_containers = [
            name
            for name, value in vars(template).items()
            if isinstance(value, dict | list) and not value
        ]

    def clone(self, api_key: str, secret: str, password: str | None = None) -> Any:
        client = copy.copy(self.template)
        for name in self._state_containers:
            setattr(client, name, type(getattr(self.template, name))())
        # ccxt sets options as it runs (market helpers, learned settings). A copy of the
        # top level: deep-copying its ~550 nested objects would cost most of the clone.
        client.options = dict(self.template.options)
        client.apiKey = api_key
        client.secret = secret
        if password is not None:
            client.password = password
        return client


class ClientFactory:
    """The clients of one exchange: a public one, and account clients cloned from a
    template (see the module's docstring)."""

    def __init__(self, setup: ExchangeSetup, session: aiohttp.ClientSession) -> None:
        self._setup = setup
        self._session = session
        self._template = ClientTemplate(build_client(setup, session))

    async def aclose(self) -> None:
        await self._template.template.close()

    def public_client(self) -> Any:
        return build_client(self._setup, self._session)

    def account_client(self, api_key: str, secret: str, password: str | None) -> Any:
        return self._template.clone(api_key, secret, password)
