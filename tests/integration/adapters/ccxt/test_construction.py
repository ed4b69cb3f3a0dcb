"""The clients' transport (construction.py): ccxt's signing, parsing and error
translation on one shared aiohttp session, against the Binance stub over HTTP."""

import socket
from collections.abc import AsyncIterator
from decimal import Decimal

import ccxt.async_support as ccxt
import pytest

from mimic.adapters.ccxt import CcxtGateways
from mimic.domain.accounts import ApiCredentials
from mimic.domain.errors import ExchangeUnavailable, InsufficientMargin, OutcomeUnknown
from tests.integration.adapters.ccxt.test_ccxt_adapter import DictVault, account, buy
from tests.stubs.binance import BinanceStub

KEYS = {f"a{n}": ApiCredentials(f"key{n}", f"secret{n}") for n in range(3)}


@pytest.fixture
async def stub() -> AsyncIterator[BinanceStub]:
    async with BinanceStub() as running:
        for credentials in KEYS.values():
            running.add_account(credentials.api_key, credentials.api_secret)
        yield running


def pool(base_url: str, *, timeout_seconds: float = 10.0) -> CcxtGateways:
    vault = DictVault(KEYS)
    return CcxtGateways(
        vault,
        api_origins={"binanceusdm": base_url},
        timeout_seconds=timeout_seconds,
        read_retries=0,
    )


async def test_every_client_of_an_exchange_sends_through_one_session(stub: BinanceStub) -> None:
    gateways = pool(stub.base_url)
    try:
        for n in range(3):
            g = await gateways.for_account(account(f"a{n}"))
            await g.place_market_order(buy("0.010", f"mimic-shared-{n}"))
        clients = gateways.clients("binanceusdm")
        sessions = set()
        for n in range(3):
            async with clients.lease(account(f"a{n}")) as leased:
                sessions.add(id(leased.client.session))
        assert sessions == {id(clients.public.session)}
        await gateways.discard("a0")  # closing an account's client keeps the session open
        assert clients.public.session is not None
        assert not clients.public.session.closed
        g = await gateways.for_account(account("a1"))
        assert (await g.place_market_order(buy("0.010", "mimic-shared-after"))).quantity == (
            Decimal("0.01")
        )
    finally:
        await gateways.aclose()
    assert stub.calls("POST", "/fapi/v1/order") == 4


async def test_an_order_whose_answer_times_out_is_unknown_a_read_unavailable(
    stub: BinanceStub,
) -> None:
    gateways = pool(stub.base_url, timeout_seconds=0.3)
    try:
        g = await gateways.for_account(account("a0"))
        await g.market_rules("BTCUSDT")
        stub.latency = 1.0
        with pytest.raises(OutcomeUnknown) as order:
            await g.place_market_order(buy("0.010", "mimic-slow"))
        assert isinstance(order.value.__cause__, ccxt.RequestTimeout)
        with pytest.raises(ExchangeUnavailable) as read:
            await g.fetch_balance()
        assert isinstance(read.value.__cause__, ccxt.RequestTimeout)
    finally:
        await gateways.aclose()


async def test_an_exchange_nobody_answers_for_is_unavailable() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again: connections to it are refused
    gateways = pool(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(ExchangeUnavailable) as caught:
            await gateways.for_account(account("a0"))  # its markets cannot load
        assert isinstance(caught.value.__cause__, ccxt.ExchangeNotAvailable)
    finally:
        await gateways.aclose()


async def test_a_refusal_keeps_binance_code_and_words_through_the_transport(
    stub: BinanceStub,
) -> None:
    gateways = pool(stub.base_url)
    try:
        g = await gateways.for_account(account("a0"))
        stub.fail(-2019)
        with pytest.raises(InsufficientMargin, match="Margin is insufficient"):
            await g.place_market_order(buy("0.010", "mimic-refused"))
    finally:
        await gateways.aclose()
