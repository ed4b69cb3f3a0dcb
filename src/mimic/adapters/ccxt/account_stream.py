"""Binance USD-M user data streams through ccxt.pro.

ccxt.pro does the protocol: `watch_orders` creates the listen key (POST /fapi/v1/listenKey),
connects to the private WebSocket, keeps the key alive (PUT every 20 minutes, well inside
Binance's 60) and reads the messages. Each account has a ccxt.pro client of its own (its
listen key and socket are per account), sharing the markets of one template client and
one HTTP session that belongs to this adapter, not to the REST clients' pool.

Mimic reads the raw events as ccxt receives them (`handle_message`), not ccxt's parsed
orders: ccxt keeps one entry per order, so two fills of one order between two reads would
look like one, and it drops what it does not parse (liquidations, CALCULATED; algo orders'
ALGO_UPDATE, which tells which order a TP/SL spawned when it triggered).

- `listenKeyExpired`: the key is dead and Binance sends nothing more on it; the client is
  told to authenticate again (a new key) and the socket is dropped, which reconnects.
- A lost connection is retried with backoff (1 s doubling to 30 s); each (re)connection
  starts with `StreamConnected`, on which the holder reconciles by REST.
- New connections are paced (`connects`): Binance refuses an IP that opens more than 300
  in 5 minutes, and a worker starting with its share of thousands would.
"""

import asyncio
import copy
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.pro as ccxtpro

from mimic.adapters.ccxt.budget import WeightBudget
from mimic.adapters.ccxt.construction import rewrite_origin, tls_context
from mimic.adapters.ccxt.errors import Call, translate
from mimic.adapters.ccxt.lazy import STREAMED_EXCHANGES
from mimic.adapters.ccxt.values import to_decimal, to_decimal_or
from mimic.domain.account_events import (
    AccountEvent,
    BalanceEvent,
    FillCause,
    FillEvent,
    PositionEvent,
    StreamConnected,
)
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import AuthRejected
from mimic.domain.orders import OrderSide
from mimic.domain.performance import AccountFill
from mimic.ports.account_events import AccountEventStream
from mimic.ports.exchange import CredentialVault
from mimic.ports.services import Clock

log = logging.getLogger(__name__)

# Client ids Binance gives the orders it places itself: liquidation, auto-deleveraging,
# delivery / delisting settlement.
EXCHANGE_CLOSES = ("autoclose-", "adl_autoclose", "settlement_autoclose")
_DONE = ("FILLED", "CANCELED", "EXPIRED")
_MIMICS = ("ORDER_TRADE_UPDATE", "ALGO_UPDATE", "ACCOUNT_UPDATE")


class _UserDataClient(ccxtpro.binanceusdm):  # type: ignore[misc]  # ccxt ships no types
    """ccxt.pro's client, handing Mimic every user-data event it receives."""

    mimic_events: "asyncio.Queue[dict[str, Any] | BaseException]"

    def handle_message(self, client: Any, message: Any) -> Any:
        if isinstance(message, dict):
            kind = message.get("e")
            if kind in _MIMICS:
                # Mimic's, not parsed by ccxt too: its caches are not read, and the watch
                # it would wake stays pending until the socket fails (see _next).
                self.mimic_events.put_nowait(message)
                return None
            if kind == "TRADE_LITE":
                return None  # the same fill as the ORDER_TRADE_UPDATE that follows
            if kind == "listenKeyExpired":
                # Authenticate anew on the next watch (ccxt keeps the dead key otherwise),
                # and drop this socket: the key's stream says nothing more.
                self.options["linear"] = {
                    **self.options.get("linear", {}),
                    "listenKey": None,
                    "lastAuthenticatedTime": 0,
                }
                client.reset(ccxtpro.NetworkError("binanceusdm: listen key expired"))
                self.spawn(client.close)
                return None
        try:
            return super().handle_message(client, message)
        except Exception:
            # ccxt could not parse it (a liquidation with null fields, say): Mimic has the
            # raw event already, and the socket must keep reading.
            log.warning("ccxt did not parse a user data event", exc_info=True)
            return None


class CcxtAccountStream(AccountEventStream):
    def __init__(
        self,
        vault: CredentialVault,
        clock: Clock,
        *,
        api_origins: Mapping[str, str] | None = None,
        timeout_seconds: float = 10.0,
        first_backoff: float = 1.0,
        max_backoff: float = 30.0,
        connects: WeightBudget | None = None,
    ) -> None:
        """`connects`: the pace at which this process opens new connections (each
        connection attempt takes 1 from it), within the exchange's limit per IP."""
        self._vault = vault
        self._clock = clock
        self._api_origins = dict(api_origins or {})
        self._timeout = timeout_seconds
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._connects = connects
        self._session: aiohttp.ClientSession | None = None
        self._templates: dict[str, Any] = {}
        self._fresh: dict[str, list[str]] = {}  # a template's containers each copy renews
        self._markets_lock = asyncio.Lock()

    def supports(self, exchange: str) -> bool:
        return exchange in STREAMED_EXCHANGES

    async def aclose(self) -> None:
        for template in self._templates.values():
            await template.close()
        if self._session is not None:
            await self._session.close()

    async def events(self, account: ExchangeAccount) -> AsyncIterator[Sequence[AccountEvent]]:
        credentials = await self._vault.credentials_for(account)
        client = await self._client(account.exchange, credentials.api_key, credentials.api_secret)
        queue: asyncio.Queue[dict[str, Any] | BaseException] = client.mimic_events
        seen = _Seen()
        backoff = self._first_backoff
        try:
            while True:
                if self._connects is not None:
                    await self._connects.acquire(1)
                # ccxt's watch opens the socket; since order events never reach ccxt's
                # handlers, it only ends when the socket fails: why goes into the queue.
                watching = asyncio.ensure_future(client.watch_orders())
                watching.add_done_callback(_report_failure(queue))
                try:
                    await self._connected(client, watching)
                    yield [StreamConnected(self._clock.now())]
                    backoff = self._first_backoff
                    while True:
                        messages = await _next(queue)
                        events = [e for m in messages for e in _events(m, seen)]
                        if events:
                            yield events
                except Exception as exc:  # translated: auth ends the stream, the rest retries
                    error = translate(exc, account.exchange, Call.READ)
                    if isinstance(error, AuthRejected):
                        raise error from exc
                    log.warning("stream of %s lost: %s", account.id, error.reason)
                finally:
                    watching.cancel()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                _drop_failures(queue)
        finally:
            await client.close()

    async def _connected(self, client: Any, watching: "asyncio.Future[Any]") -> None:
        """Until the account's socket is open (then nothing from now on is missed)."""
        deadline = time.monotonic() + self._timeout
        while True:
            if watching.done():
                watching.result()  # failed to authenticate or connect: raises
            key = (client.options.get("linear") or {}).get("listenKey")
            sockets = [c for c in client.clients.values() if key and f"listenKey={key}" in c.url]
            if any(c.connected.done() and not c.connected.exception() for c in sockets):
                return
            if time.monotonic() > deadline:
                raise ccxtpro.NetworkError("binanceusdm: user data stream did not connect")
            await asyncio.sleep(0.02)

    async def _client(self, exchange: str, api_key: str, secret: str) -> Any:
        """A shallow copy of the exchange's template, as construction.py clones REST
        clients: ccxt's constructor costs some 0.3 MB per instance, the copy a few KB.
        What ccxt fills as it runs (sockets, caches) starts empty and the options are the
        client's own (its listen key lives there); markets and API tables are shared."""
        template = await self._template(exchange)
        client = copy.copy(template)
        for name in self._fresh[exchange]:
            setattr(client, name, type(getattr(template, name))())
        client.options = dict(template.options)
        client.apiKey = api_key
        client.secret = secret
        client.mimic_events = asyncio.Queue()
        return client

    async def _template(self, exchange: str) -> Any:
        """One client per exchange whose markets every account's client shares."""
        async with self._markets_lock:
            template = self._templates.get(exchange)
            if template is None:
                template = self._build(exchange, {})
                self._fresh[exchange] = [
                    name
                    for name, value in vars(template).items()
                    if isinstance(value, dict | list) and not value
                ]
                try:
                    await template.load_markets()
                except Exception as exc:
                    await template.close()
                    raise translate(exc, exchange, Call.READ) from exc
                self._templates[exchange] = template
            return template

    def _build(self, exchange: str, credentials: dict[str, str]) -> Any:
        if self._session is None:
            # Sockets are long-lived, one per account: no limit on open connections.
            connector = aiohttp.TCPConnector(limit=0, ssl=tls_context())
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar()
            )
        client = _UserDataClient(
            {
                **credentials,
                "timeout": int(self._timeout * 1000),
                "session": self._session,
                # Copies share the template's throttler: one per account would be a
                # different budget each, and shared it would queue every account's
                # listen-key calls behind each other.
                "enableRateLimit": False,
                "options": {"fetchCurrencies": False, "maxRetriesOnFailure": 0},
            }
        )
        client.timeout_on_exit = 0  # the session is this adapter's, closed by it
        client.ssl_context = tls_context()
        origin = self._api_origins.get(exchange)
        if origin is not None:
            client.urls["api"] = rewrite_origin(client.urls["api"], origin)
        return client


def _report_failure(
    queue: "asyncio.Queue[dict[str, Any] | BaseException]",
) -> Callable[["asyncio.Future[Any]"], None]:
    def report(watching: "asyncio.Future[Any]") -> None:
        if watching.cancelled():
            return
        failure = watching.exception()
        queue.put_nowait(failure or ccxtpro.NetworkError("binanceusdm: stream ended"))

    return report


async def _next(queue: "asyncio.Queue[dict[str, Any] | BaseException]") -> list[dict[str, Any]]:
    """The messages waiting (at least one); raises the socket's failure when it comes."""
    messages: list[dict[str, Any]] = []
    item = await queue.get()
    while True:
        if isinstance(item, BaseException):
            raise item
        messages.append(item)
        if queue.empty():
            return messages
        item = queue.get_nowait()


def _drop_failures(queue: "asyncio.Queue[dict[str, Any] | BaseException]") -> None:
    """Before reconnecting: a failure reported twice must not end the new connection."""
    kept = [item for item in _drain(queue) if not isinstance(item, BaseException)]
    for item in kept:
        queue.put_nowait(item)


def _drain(queue: "asyncio.Queue[dict[str, Any] | BaseException]") -> list[Any]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


class _Seen:
    """What earlier messages of one stream tell about later ones."""

    def __init__(self) -> None:
        self.spawned: dict[str, str] = {}  # order id -> client id of the TP/SL that placed it
        # (symbol, position side) -> (event time in ms, signed amount) of the latest
        # ACCOUNT_UPDATE: Binance sends it just before the fill's ORDER_TRADE_UPDATE.
        self.positions: dict[tuple[str, str], tuple[int, Decimal]] = {}


def _events(message: dict[str, Any], seen: _Seen) -> list[AccountEvent]:
    kind = message.get("e")
    if kind == "ACCOUNT_UPDATE":
        return _account_update(message, seen)
    if kind == "ALGO_UPDATE":  # only tells which order a TP/SL placed when it triggered
        order = message.get("o") or {}
        if order.get("ai") and order.get("caid"):
            seen.spawned[str(order["ai"])] = str(order["caid"])
        return []
    fill = _fill(message, seen)
    return [] if fill is None else [fill]


def _account_update(message: dict[str, Any], seen: _Seen) -> list[AccountEvent]:
    """Balances and positions that changed (a fill, funding, a transfer, a liquidation)."""
    update = message.get("a") or {}
    at_ms = int(message.get("T") or message["E"])
    at = datetime.fromtimestamp(at_ms / 1000, UTC)
    events: list[AccountEvent] = []
    for balance in update.get("B") or []:
        wallet = to_decimal_or(balance.get("wb"), None)
        if balance.get("a") and wallet is not None:
            events.append(BalanceEvent(str(balance["a"]), wallet, at))
    for position in update.get("P") or []:
        amount = to_decimal_or(position.get("pa"), None)
        if not position.get("s") or amount is None:
            continue
        seen.positions[(str(position["s"]), str(position.get("ps") or "BOTH"))] = (at_ms, amount)
        entry = to_decimal_or(position.get("ep"), Decimal(0))
        events.append(PositionEvent(str(position["s"]), amount, entry, at))
    return events


def _fill(message: dict[str, Any], seen: _Seen) -> FillEvent | None:
    """A fill from ORDER_TRADE_UPDATE."""
    order = message.get("o") or {}
    execution = order.get("x")
    quantity = to_decimal_or(order.get("l"), Decimal(0))
    if execution not in ("TRADE", "CALCULATED") or quantity == 0:
        return None
    order_id = str(order["i"])
    client_id = seen.spawned.get(order_id) or (str(order["c"]) if order.get("c") else None)
    liquidation = (
        execution == "CALCULATED"
        or "LIQUIDATION" in (order.get("o"), order.get("ot"))
        or (client_id or "").startswith(EXCHANGE_CLOSES)
    )
    executed_ms = int(order.get("T") or message["E"])
    trade_id = order.get("t")
    fill = AccountFill(
        fill_id=str(trade_id) if trade_id else f"{order_id}:{order.get('z')}",
        symbol=str(order["s"]),
        side=OrderSide(str(order["S"]).lower()),
        quantity=quantity,
        price=to_decimal(order["L"]),
        fee=abs(to_decimal_or(order.get("n"), Decimal(0))),
        realized_pnl=to_decimal_or(order.get("rp"), Decimal(0)),
        executed_at=datetime.fromtimestamp(executed_ms / 1000, UTC),
        order_id=order_id,
        client_order_id=client_id,
    )
    cumulative = to_decimal_or(order.get("z"), quantity)
    average = to_decimal_or(order.get("ap"), Decimal(0)) or fill.price
    # The position this fill left, if the ACCOUNT_UPDATE of the same moment told it (one
    # from before would be the position before the fill: then it is read when needed).
    position = seen.positions.get((fill.symbol, str(order.get("ps") or "BOTH")))
    return FillEvent(
        fill=fill,
        order_id=order_id,
        client_order_id=client_id,
        order_quantity=cumulative,
        order_average_price=average,
        order_done=str(order.get("X")) in _DONE,
        cause=FillCause.LIQUIDATION if liquidation else FillCause.ORDER,
        position_after=position[1] if position and position[0] == executed_ms else None,
    )
