"""ccxt on first use. Importing ccxt.async_support (and ccxt.pro) costs a few seconds of
CPU: a process that only trades on the paper exchange, as the embedded default and each
test subprocess do, never pays it. These stand-ins are what the composition root wires;
the real adapter is imported and built the first time an account on a ccxt exchange (or an
exchange name the paper venue does not serve) is asked about."""

import importlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mimic.domain.account_events import AccountEvent
from mimic.domain.accounts import ExchangeAccount
from mimic.ports.account_events import AccountEventStream
from mimic.ports.exchange import CredentialVault, ExchangeGateway, ExchangeGateways
from mimic.ports.services import Clock

if TYPE_CHECKING:
    from mimic.adapters.ccxt.account_stream import CcxtAccountStream
    from mimic.adapters.ccxt.gateways import CcxtGateways
    from mimic.adapters.ccxt.price_feed import CcxtPriceFeed

# The exchanges whose account streams account_stream.py serves (Binance's user data stream).
STREAMED_EXCHANGES = ("binanceusdm",)


class LazyCcxtGateways(ExchangeGateways):
    """`CcxtGateways(vault, **options)`, imported and built on first use."""

    def __init__(self, vault: CredentialVault, **options: Any) -> None:
        self._vault = vault
        self._options = options
        self._gateways: CcxtGateways | None = None

    @property
    def loaded(self) -> bool:
        return self._gateways is not None

    def _real(self) -> "CcxtGateways":
        if self._gateways is None:
            module = importlib.import_module("mimic.adapters.ccxt.gateways")
            self._gateways = module.CcxtGateways(self._vault, **self._options)
        return self._gateways

    def supports(self, exchange: str) -> bool:
        return self._real().supports(exchange)

    async def for_account(self, account: ExchangeAccount) -> ExchangeGateway:
        return await self._real().for_account(account)

    def price_feed(self, exchange: str) -> "CcxtPriceFeed":
        return self._real().price_feed(exchange)

    async def discard(self, account_id: str) -> None:
        if self._gateways is not None:
            await self._gateways.discard(account_id)

    async def aclose(self) -> None:
        if self._gateways is not None:
            await self._gateways.aclose()


class LazyCcxtAccountStream(AccountEventStream):
    """`CcxtAccountStream(vault, clock, **options)`, imported and built on first use."""

    def __init__(self, vault: CredentialVault, clock: Clock, **options: Any) -> None:
        self._vault = vault
        self._clock = clock
        self._options: Mapping[str, Any] = options
        self._stream: CcxtAccountStream | None = None

    @property
    def loaded(self) -> bool:
        return self._stream is not None

    def supports(self, exchange: str) -> bool:
        return exchange in STREAMED_EXCHANGES

    def events(self, account: ExchangeAccount) -> AsyncIterator[Sequence[AccountEvent]]:
        if self._stream is None:
            module = importlib.import_module("mimic.adapters.ccxt.account_stream")
            self._stream = module.CcxtAccountStream(self._vault, self._clock, **self._options)
        return self._stream.events(account)

    async def aclose(self) -> None:
        if self._stream is not None:
            await self._stream.aclose()
