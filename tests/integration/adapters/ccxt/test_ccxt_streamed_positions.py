"""Planning reads a follower's position from what its live stream last reported, through
ccxt against the Binance stub: no positionRisk while the stream is live and caught up,
REST whenever it is not (a follower without a stream, a dropped socket, Mimic's own order
not yet reported, an order whose outcome is unknown).

Two followers: `a0` (key0) has its user data stream held here, `a1` (key1) has none.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from redis.asyncio import Redis

from mimic.adapters.ccxt import CcxtGateways
from mimic.adapters.ccxt.account_stream import CcxtAccountStream
from mimic.adapters.memory.streamed_accounts import InMemoryStreamedAccounts
from mimic.adapters.redis.streamed_accounts import RedisStreamedAccounts
from mimic.domain.account_events import AccountEvent
from mimic.domain.accounts import ApiCredentials, ExchangeAccount
from mimic.domain.errors import OutcomeUnknown
from mimic.domain.orders import OrderRequest, OrderSide
from mimic.ports.exchange import ExchangeGateway
from mimic.ports.streamed_accounts import StreamedAccounts
from tests.conftest import REDIS_URL
from tests.fakes.services import FixedClock
from tests.integration.adapters.ccxt.test_ccxt_adapter import DictVault
from tests.stubs.binance_user_stream import BinanceUserStream

D = Decimal
STREAMED = ExchangeAccount("a0", "user-0", "binanceusdm", "main", datetime.now(UTC))
UNSTREAMED = ExchangeAccount("a1", "user-1", "binanceusdm", "main", datetime.now(UTC))
POSITION_RISK = ("GET", "/fapi/v2/positionRisk")


class FlakyState(InMemoryStreamedAccounts):
    """The store, away for the next `failing` writes of a stream (as Redis may be)."""

    failing = 0

    async def update(self, *args: Any, **kwargs: Any) -> bool:
        if self.failing:
            self.failing -= 1
            raise ConnectionError("the store is away")
        return await super().update(*args, **kwargs)


class Platform:
    def __init__(
        self, stub: BinanceUserStream, state_ttl: timedelta, state: StreamedAccounts
    ) -> None:
        self.stub = stub
        self.state = state
        vault = DictVault(
            {"a0": ApiCredentials("key0", "secret0"), "a1": ApiCredentials("key1", "secret1")}
        )
        origins = {"binanceusdm": stub.base_url}
        self.gateways = CcxtGateways(vault, api_origins=origins, streamed=self.state)
        self.streams = CcxtAccountStream(
            vault,
            FixedClock(),
            api_origins=origins,
            first_backoff=0.05,
            streamed=self.state,
            state_ttl=state_ttl,
        )
        self.events: list[AccountEvent] = []
        self._holding: asyncio.Task[None] | None = None

    def hold_stream(self) -> None:
        async def hold() -> None:
            async for batch in self.streams.events(STREAMED):
                self.events += batch

        self._holding = asyncio.create_task(hold())

    async def aclose(self) -> None:
        if self._holding is not None:
            self._holding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._holding
        await self.streams.aclose()
        await self.gateways.aclose()

    def position_reads(self, api_key: str) -> int:
        return self.stub.calls(*POSITION_RISK, api_key)

    async def gateway(self, account: ExchangeAccount) -> ExchangeGateway:
        return await self.gateways.for_account(account)

    async def usable(self, wanted: bool = True) -> None:
        """Until the state of a0's BTCUSDT is usable (or not), within a few seconds."""
        for _ in range(500):
            if (await self.state.read("a0", "BTCUSDT") is not None) == wanted:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"the streamed state never became {'un' * (not wanted)}usable")


@pytest.fixture(params=["memory", "redis"])
async def platform(request: pytest.FixtureRequest) -> AsyncIterator[Platform]:
    """The state in this process's memory (embedded) or in the real Redis (workers)."""
    redis = Redis.from_url(REDIS_URL)
    state: StreamedAccounts = InMemoryStreamedAccounts()
    if request.param == "redis":
        state = RedisStreamedAccounts(redis, prefix=f"test:{uuid.uuid4().hex}:accounts:")
    async with BinanceUserStream() as stub:
        stub.add_account("key0", "secret0")
        stub.add_account("key1", "secret1")
        running = Platform(stub, timedelta(seconds=15), state)
        yield running
        await running.aclose()
    await redis.aclose()


def buy(client_id: str, quantity: str = "0.010") -> OrderRequest:
    return OrderRequest("BTCUSDT", OrderSide.BUY, D(quantity), client_id)


async def quantities(gateways: Sequence[ExchangeGateway]) -> list[Decimal]:
    snapshots = [await g.fetch_snapshot("BTCUSDT", with_balance=True) for g in gateways]
    return [D(0) if s.position is None else s.position.quantity for s in snapshots]


async def test_a_live_stream_spares_position_reads_and_a_follower_without_one_reads_by_rest(
    platform: Platform,
) -> None:
    platform.hold_stream()
    await platform.usable()
    streamed, unstreamed = await platform.gateway(STREAMED), await platform.gateway(UNSTREAMED)
    seed = platform.position_reads("key0")
    assert seed == 1  # the seed, once the socket was open

    assert await quantities([streamed, unstreamed]) == [D(0), D(0)]  # the first signal
    await streamed.place_market_order_at_leverage(buy("mimic-1"), 20)
    await unstreamed.place_market_order_at_leverage(buy("mimic-2"), 20)
    await platform.usable()  # the stream reported the fill
    assert await quantities([streamed, unstreamed]) == [D("0.010"), D("0.010")]  # the second
    assert platform.position_reads("key0") == seed  # none for the follower with a stream
    assert platform.position_reads("key1") == 2  # one per signal for the one without

    # The socket drops and cannot come back (no listen key): unusable at once, REST.
    platform.stub.fail(status=503, method="POST", path="/fapi/v1/listenKey", times=None)
    await platform.stub.disconnect("key0")
    await platform.usable(wanted=False)
    assert await quantities([streamed]) == [D("0.010")]
    assert platform.position_reads("key0") == seed + 1


async def test_the_plan_after_mimics_order_never_reads_the_state_from_before_it(
    platform: Platform,
) -> None:
    platform.hold_stream()
    await platform.usable()
    gateway = await platform.gateway(STREAMED)
    platform.stub.drop_kinds = {"ACCOUNT_UPDATE"}  # the stream will not tell the fill
    await gateway.place_market_order_at_leverage(buy("mimic-1"), 20)
    reads = platform.position_reads("key0")
    assert await quantities([gateway]) == [D("0.010")]  # by REST: not the flat state before
    assert platform.position_reads("key0") == reads + 1
    # That REST read began after the order's answer: the state is current again.
    assert await quantities([gateway]) == [D("0.010")]
    assert platform.position_reads("key0") == reads + 1

    platform.stub.drop_kinds = set()
    await gateway.place_market_order_at_leverage(buy("mimic-2"), 20)
    await platform.usable()  # the stream told the fill
    assert await quantities([gateway]) == [D("0.020")]
    assert platform.position_reads("key0") == reads + 1


async def test_an_order_with_an_unknown_outcome_waits_for_rest(platform: Platform) -> None:
    platform.hold_stream()
    await platform.usable()
    gateway = await platform.gateway(STREAMED)
    platform.stub.fail(code=-1007, after_execution=True)  # executed, answer lost
    with pytest.raises(OutcomeUnknown):
        await gateway.place_market_order_at_leverage(buy("mimic-1"), 20)
    await asyncio.sleep(0.2)  # the stream told the fill meanwhile: still not enough
    assert await platform.state.read("a0", "BTCUSDT") is None
    reads = platform.position_reads("key0")
    assert await quantities([gateway]) == [D("0.010")]
    assert platform.position_reads("key0") == reads + 1


async def test_a_leverage_change_is_written_though_it_is_no_event(platform: Platform) -> None:
    platform.hold_stream()
    await platform.usable()
    gateway = await platform.gateway(STREAMED)
    await gateway.place_market_order_at_leverage(buy("mimic-1"), 20)
    await platform.usable()
    message = {"e": "ACCOUNT_CONFIG_UPDATE", "E": 1, "T": 1, "ac": {"s": "BTCUSDT", "l": 7}}
    await platform.stub.push("key0", message)  # changed by hand in the app
    for _ in range(500):
        snapshot = await gateway.fetch_snapshot("BTCUSDT", with_balance=False)
        if snapshot.position is not None and snapshot.position.leverage == 7:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the leverage change never reached the state")


@pytest.fixture
async def renewing() -> AsyncIterator[Platform]:
    """a0's stream held and its state usable, renewed every 0.17 s (not 5 s)."""
    async with BinanceUserStream() as stub:
        stub.add_account("key0", "secret0")
        running = Platform(stub, timedelta(milliseconds=500), FlakyState())
        running.hold_stream()
        await running.usable()
        yield running
        await running.aclose()


async def test_a_state_taken_from_its_stream_is_taken_back_and_seeded_anew(
    renewing: Platform,
) -> None:
    seeds = renewing.position_reads("key0")
    await renewing.state.connected("a0", "lost", timedelta(seconds=30))  # taken
    await renewing.usable(wanted=False)
    await renewing.usable()  # the renewal found out, claimed it back and seeded it
    assert renewing.position_reads("key0") == seeds + 1


async def test_a_write_that_failed_leaves_no_gap_to_be_read(renewing: Platform) -> None:
    assert isinstance(renewing.state, FlakyState)
    gateway = await renewing.gateway(STREAMED)
    await gateway.place_market_order_at_leverage(buy("mimic-1"), 20)
    await renewing.usable()
    assert await quantities([gateway]) == [D("0.010")]
    seeds = renewing.position_reads("key0")

    renewing.state.failing = 1
    await renewing.stub.liquidate("key0", "BTCUSDT")  # its ACCOUNT_UPDATE is not written
    for _ in range(500):
        if not renewing.state.failing:
            break
        await asyncio.sleep(0.01)
    state = await renewing.state.read("a0", "BTCUSDT")  # dropped (or anew): not stale
    assert state is None or all(p.amount == 0 for p in state.positions)
    await renewing.usable()  # claimed anew and seeded by the next renewal
    assert renewing.position_reads("key0") == seeds + 1
    assert await quantities([gateway]) == [D(0)]
    assert renewing.position_reads("key0") == seeds + 1
