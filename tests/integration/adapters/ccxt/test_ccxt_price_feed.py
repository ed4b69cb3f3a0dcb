"""The ccxt price feed (real ccxt binanceusdm) against the local Binance stub over HTTP."""

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from mimic.adapters.ccxt import CcxtGateways
from tests.integration.adapters.ccxt.test_ccxt_adapter import DictVault
from tests.stubs.binance import BinanceStub

MARK_PATH = "/fapi/v1/premiumIndex"


@pytest.fixture
async def stub() -> AsyncIterator[BinanceStub]:
    async with BinanceStub() as running:
        yield running


@pytest.fixture
async def gateways(stub: BinanceStub) -> AsyncIterator[CcxtGateways]:
    pool = CcxtGateways(DictVault({}), api_origins={"binanceusdm": stub.base_url})
    yield pool
    await pool.aclose()


def mark_polls(stub: BinanceStub) -> int:
    return sum(1 for r in stub.requests if r.path == MARK_PATH)


async def test_one_public_poll_answers_every_follower(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    stub.set_mark_price("BTCUSDT", "64123.4")
    stub.set_mark_price("ETHUSDT", "3456.78")
    feed = gateways.price_feed("binanceusdm")
    assert gateways.price_feed("binanceusdm") is feed  # one per exchange
    await feed.subscribe({"BTCUSDT", "ETHUSDT"})
    answers = await asyncio.gather(*(feed.latest({"BTCUSDT", "ETHUSDT"}) for _ in range(50)))
    assert all(a == {"BTCUSDT": Decimal("64123.4"), "ETHUSDT": Decimal("3456.78")} for a in answers)
    assert mark_polls(stub) == 1
    assert all(r.api_key is None for r in stub.requests)  # public: no follower's keys


async def test_prices_refresh_after_max_age_and_unknown_symbols_are_left_out(
    stub: BinanceStub, gateways: CcxtGateways
) -> None:
    feed = gateways.price_feed("binanceusdm")
    await feed.subscribe({"BTCUSDT", "FOOUSDT"})
    first = await feed.latest({"BTCUSDT", "FOOUSDT"})
    assert set(first) == {"BTCUSDT"}
    stub.set_mark_price("BTCUSDT", "60000")
    assert await feed.latest({"BTCUSDT"}) == first  # within max_age: the same poll
    await asyncio.sleep(1.05)
    assert await feed.latest({"BTCUSDT"}) == {"BTCUSDT": Decimal(60000)}
    assert mark_polls(stub) == 2
    await feed.subscribe({"ETHUSDT"})  # a new symbol is polled at once
    assert set(await feed.latest({"ETHUSDT", "BTCUSDT"})) == {"ETHUSDT", "BTCUSDT"}
    assert mark_polls(stub) == 3
