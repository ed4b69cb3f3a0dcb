"""Binance USD-M user data streams: the socket read directly, ccxt for the REST calls.

Each account has its listen key (`POST /fapi/v1/listenKey`, through a ccxt client: the
signing and the API key header are ccxt's) and its own WebSocket
(`/private/ws?listenKey=...`), read here with aiohttp and decoded with msgspec
(`binance_user_data`): ccxt.pro's receive loop, its parsing and its caches cost more per
message than everything else the holder does with it. Each account's ccxt client is a
shallow copy of one template per exchange (ccxt's constructor costs some 0.3 MB); they and
the sockets share one HTTP session that belongs to this adapter, not to the REST clients'
pool.

- The key is kept alive (`PUT`) every `keep_alive_seconds` (30 minutes; Binance expires it
  after 60 without). A keep-alive refused (the key is gone) drops the socket, which
  reconnects with a new key.
- `listenKeyExpired`: the key is dead and Binance sends nothing more on it; the socket is
  dropped and the next connection asks for a new key.
- A lost connection is retried with backoff (1 s doubling to 30 s); each (re)connection
  starts with `StreamConnected`, on which the holder reconciles by REST. A silent socket is
  found out by pings (`heartbeat_seconds`).
- New connections are paced (`connects`): Binance refuses an IP that opens more than 300
  in 5 minutes, and a worker starting with its share of thousands would.
"""

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import aiohttp
import ccxt.pro as ccxtpro

from mimic.adapters.ccxt.binance_user_data import UserDataReader
from mimic.adapters.ccxt.budget import WeightBudget
from mimic.adapters.ccxt.construction import ClientTemplate, rewrite_origin, tls_context
from mimic.adapters.ccxt.errors import Call, translate
from mimic.adapters.ccxt.lazy import STREAMED_EXCHANGES
from mimic.adapters.ccxt.streamed_positions import (
    position_reports,
    row_leverage,
    succeeded,
    wallet_reports,
)
from mimic.domain.account_events import AccountEvent, StreamConnected
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import AuthRejected
from mimic.ports.account_events import AccountEventStream
from mimic.ports.exchange import CredentialVault
from mimic.ports.services import Clock
from mimic.ports.streamed_accounts import PositionReport, StreamedAccounts, WalletReport

log = logging.getLogger(__name__)
_CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


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
        keep_alive_seconds: float = 30 * 60,
        heartbeat_seconds: float = 60.0,
        connects: WeightBudget | None = None,
        streamed: StreamedAccounts | None = None,
        state_ttl: timedelta = timedelta(seconds=15),
    ) -> None:
        """`connects`: the pace at which this process opens new connections (each
        connection attempt takes 1 from it), within the exchange's limit per IP.
        `streamed`: where each live connection keeps what it reports of the account's
        positions (seeded by REST once connected), for planning to read instead of REST;
        it lasts `state_ttl` unless the connection renews it (every third of it)."""
        self._vault = vault
        self._clock = clock
        self._api_origins = dict(api_origins or {})
        self._timeout = timeout_seconds
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._keep_alive = keep_alive_seconds
        self._heartbeat = heartbeat_seconds
        self._connects = connects
        self._streamed = streamed
        self._state_ttl = state_ttl
        self._session: aiohttp.ClientSession | None = None
        self._templates: dict[str, ClientTemplate] = {}

    def supports(self, exchange: str) -> bool:
        return exchange in STREAMED_EXCHANGES

    async def aclose(self) -> None:
        for template in self._templates.values():
            await template.template.close()
        if self._session is not None:
            await self._session.close()

    async def events(self, account: ExchangeAccount) -> AsyncIterator[Sequence[AccountEvent]]:
        credentials = await self._vault.credentials_for(account)
        client = self._client(account.exchange, credentials.api_key, credentials.api_secret)
        reader = UserDataReader()
        backoff = self._first_backoff
        try:
            while True:
                if self._connects is not None:
                    await self._connects.acquire(1)
                try:
                    async with (
                        self._connected(client) as socket,
                        self._writing_state(account, client) as writer,
                    ):
                        yield [StreamConnected(self._clock.now())]
                        backoff = self._first_backoff
                        async for events in _read(socket, reader, writer):
                            yield events
                except Exception as exc:  # translated: auth ends the stream, the rest retries
                    error = translate(exc, account.exchange, Call.READ)
                    if isinstance(error, AuthRejected):
                        raise error from exc
                    log.warning("stream of %s lost: %s", account.id, error.reason)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
        finally:
            await client.close()

    @contextlib.asynccontextmanager
    async def _connected(self, client: Any) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
        """The account's socket on a listen key of its own, kept alive while open."""
        answer = await client.fapiPrivatePostListenKey()
        url = client.get_private_ws_url("linear", str(answer["listenKey"]))
        async with asyncio.timeout(self._timeout):
            socket = await self._http().ws_connect(url, heartbeat=self._heartbeat)
        keeping = asyncio.create_task(self._keep_key_alive(client, socket))
        try:
            yield socket
        finally:
            keeping.cancel()
            await socket.close()

    async def _keep_key_alive(self, client: Any, socket: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            await asyncio.sleep(self._keep_alive)
            try:
                await client.fapiPrivatePutListenKey()
            except Exception as exc:  # the key is gone (or the exchange away): start anew
                log.warning("listen key not kept alive: %s", exc)
                await socket.close()
                return

    @contextlib.asynccontextmanager
    async def _writing_state(
        self, account: ExchangeAccount, client: Any
    ) -> AsyncIterator["_StateWriter"]:
        """This connection's streamed account state, from the moment its socket is open
        until it closes (then unusable at once)."""
        writer = _StateWriter(self._streamed, account.id, self._state_ttl, self._connects)
        await writer.start(client)
        try:
            yield writer
        finally:
            await writer.stop()

    def _client(self, exchange: str, api_key: str, secret: str) -> Any:
        """A clone of the exchange's template, as the REST clients are: ccxt's constructor
        costs some 0.3 MB per instance, the clone a few KB. Listen-key calls need no
        markets: none are loaded."""
        template = self._templates.get(exchange)
        if template is None:
            template = self._templates[exchange] = ClientTemplate(self._build(exchange))
        return template.clone(api_key, secret)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Sockets are long-lived, one per account: no limit on open connections.
            connector = aiohttp.TCPConnector(limit=0, ssl=tls_context())
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    def _build(self, exchange: str) -> Any:
        client = ccxtpro.binanceusdm(
            {
                "timeout": int(self._timeout * 1000),
                "session": self._http(),
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


async def _read(
    socket: aiohttp.ClientWebSocketResponse, reader: UserDataReader, writer: "_StateWriter"
) -> AsyncIterator[list[AccountEvent]]:
    """The events of each message until the socket closes (then raises: reconnect). What a
    message tells of positions and leverage is written before the next one is read, events
    or not (a leverage change is no event, and the next event may be long in coming)."""
    while True:
        message = await socket.receive()
        if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            events = reader.events(message.data)
            await writer.write(*reader.take_state())
            if events:
                yield events
        elif message.type == aiohttp.WSMsgType.ERROR:
            raise ccxtpro.NetworkError(f"binanceusdm: user data stream failed: {message.data}")
        elif message.type in _CLOSED:
            raise ccxtpro.NetworkError("binanceusdm: user data stream closed")


class _StateWriter:
    """One connection's writes to the streamed account state: `connected` once the socket
    is open, then the seed (positionRisk and the wallets by REST, read after that) beside
    the first events, each message's positions, leverage and wallets in order, a renewal
    every third of the TTL, and `dropped` when the socket closes.

    A write that fails leaves a gap no later write can mend: the state is then dropped
    (or, with the store away, left to expire) and this connection writes nothing more until
    it has claimed the state anew and seeded it again, which the renewal tries each time.
    The same when the state is found to be no longer this connection's (another holder's
    connection took it during a lease handover, or Redis lost it), or its seed failed. A
    claim after the first one takes a token from the connections' pace (`claims`): each
    seeds by REST (weight 10), and a store that comes and goes must not spend the IP's
    budget on thousands of seeds at once.
    """

    def __init__(
        self,
        store: StreamedAccounts | None,
        account_id: str,
        ttl: timedelta,
        claims: WeightBudget | None,
    ) -> None:
        self._store = store
        self._claims = claims
        self._account = account_id
        self._ttl = ttl
        self._stream = ""  # the claim this connection writes under; "" while it has none
        self._client: Any = None
        self._seeding: asyncio.Task[None] | None = None
        self._renewing: asyncio.Task[None] | None = None

    async def start(self, client: Any) -> None:
        self._client = client
        if self._store is not None:
            await self._claim(self._store)
            self._renewing = asyncio.create_task(self._renew(self._store))

    async def write(
        self,
        positions: list[PositionReport],
        leverage: dict[str, int],
        wallets: list[WalletReport],
    ) -> None:
        store, stream = self._store, self._stream
        if store is None or not stream or not (positions or leverage or wallets):
            return
        try:
            written = await store.update(
                self._account, stream, positions, leverage, self._ttl, wallets=wallets
            )
            if not written:
                self._stream = ""  # not ours any more: the renewal claims it back
        except Exception:
            log.warning("streamed state of %s not written: dropped", self._account, exc_info=True)
            await self._lose(store)

    async def stop(self) -> None:
        for task in (self._seeding, self._renewing):
            if task is not None:
                task.cancel()
        store, self._store = self._store, None
        if store is not None:
            await self._lose(store)

    async def _lose(self, store: StreamedAccounts) -> None:
        stream, self._stream = self._stream, ""
        if stream:
            await store.dropped(self._account, stream)  # never fails: written late if need be

    async def _claim(self, store: StreamedAccounts) -> None:
        """Mark the state as this connection's (unusable), then seed it by REST beside."""
        if self._seeding is not None:
            self._seeding.cancel()
        self._stream = ""
        stream = secrets.token_hex(8)
        if await succeeded("connect", lambda: store.connected(self._account, stream, self._ttl)):
            self._stream = stream
            self._seeding = asyncio.create_task(self._seed(store, stream))

    async def _seed(self, store: StreamedAccounts, stream: str) -> None:
        try:
            token = await store.rest_token(self._account)
            # Every symbol's row (weight 5): what it does not list as used is flat; every
            # asset's wallet, as the REST balance read reads it (weight 5).
            rows = await self._client.fapiPrivateV2GetPositionRisk()
            account = await self._client.fapiPrivateV3GetAccount()
            await store.seeded(
                self._account,
                stream,
                position_reports(rows),
                row_leverage(rows),
                token,
                wallets=wallet_reports(account),
            )
        except Exception:  # unusable: planning reads by REST until the renewal claims anew
            log.warning("streamed state of %s not seeded", self._account, exc_info=True)
            if self._stream == stream:
                await self._lose(store)

    async def _renew(self, store: StreamedAccounts) -> None:
        while True:
            await asyncio.sleep(self._ttl.total_seconds() / 3)
            stream = self._stream
            try:
                if not stream or not await store.renew(self._account, stream, self._ttl):
                    if self._claims is not None:
                        await self._claims.acquire(1)
                    await self._claim(store)
            except Exception:  # not renewed: it expires, and the next round claims it anew
                log.warning("streamed state of %s not renewed", self._account, exc_info=True)
                await self._lose(store)
