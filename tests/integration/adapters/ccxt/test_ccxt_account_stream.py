"""Binance user data streams through real ccxt.pro against the WebSocket stub on loopback:
normal events, a disconnect mid-stream, an expired listen key, a missed event recovered by
reconciliation, and the same event delivered twice.

A follower holds a long of 0.010 BTC opened by Mimic at 65,000, protected by a TP and an
SL on Binance's algo endpoint, placed with Mimic's real client ids.
"""

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from mimic.adapters.ccxt import CcxtGateways
from mimic.adapters.ccxt.account_stream import CcxtAccountStream
from mimic.adapters.memory.trailing import InMemoryTrailingStateStore
from mimic.application.position_protection import PositionProtection
from mimic.application.reconcile_account_fills import ReconcileAccountFills
from mimic.application.record_account_fills import RecordAccountFills
from mimic.domain.account_events import AccountEvent, FillCause, FillEvent, StreamConnected
from mimic.domain.accounts import ApiCredentials, ExchangeAccount
from mimic.domain.orders import (
    IntentStatus,
    OrderIntent,
    OrderLeg,
    OrderRequest,
    OrderSide,
    client_order_id,
)
from mimic.domain.positions import PositionSide
from mimic.domain.protection import protective_prefix
from mimic.ports.exchange import ExchangeGateway
from tests.fakes.live_events import RecordingLiveEvents
from tests.fakes.performance import InMemoryFillRepository, InMemoryGuardrailRepository
from tests.fakes.protection import InMemoryPositionIntentRepository
from tests.fakes.repositories.order_intents import InMemoryOrderIntentRepository
from tests.fakes.repositories.transactions import FakeTransactionManager
from tests.fakes.services import FixedClock, RecordingNotifier
from tests.integration.adapters.ccxt.test_ccxt_adapter import DictVault
from tests.stubs.binance_user_stream import BinanceUserStream

D = Decimal
WAIT_SECONDS = 5.0  # the bound for the Binance stub
ACCOUNT = ExchangeAccount("a0", "user-1", "binanceusdm", "main", datetime.now(UTC))


@dataclass
class Follower:
    stub: BinanceUserStream
    gateway: ExchangeGateway
    entry: OrderIntent
    intents: InMemoryOrderIntentRepository
    notifier: RecordingNotifier
    fills: InMemoryFillRepository
    record: RecordAccountFills
    reconcile: ReconcileAccountFills

    @property
    def prefix(self) -> str:
        return protective_prefix(self.entry.client_order_id)

    def legs(self, leg: OrderLeg) -> list[OrderIntent]:
        return [i for i in self.intents.all() if i.leg is leg]


@pytest.fixture
async def stub() -> AsyncIterator[BinanceUserStream]:
    async with BinanceUserStream() as running:
        running.add_account("key0", "secret0")
        yield running


def account_streams(stub: BinanceUserStream, **options: Any) -> CcxtAccountStream:
    """The adapter on the stub, serving the account `a0` (its keys are `key0`)."""
    vault = DictVault({"a0": ApiCredentials("key0", "secret0")})
    options = {"clock": FixedClock(), "first_backoff": 0.05, **options}
    return CcxtAccountStream(vault, api_origins={"binanceusdm": stub.base_url}, **options)


@pytest.fixture
async def stream(stub: BinanceUserStream) -> AsyncIterator[CcxtAccountStream]:
    streams = account_streams(stub)
    yield streams
    await streams.aclose()


@pytest.fixture
async def follower(stub: BinanceUserStream) -> AsyncIterator[Follower]:
    vault = DictVault({"a0": ApiCredentials("key0", "secret0")})
    gateways = CcxtGateways(vault, api_origins={"binanceusdm": stub.base_url})
    gateway = await gateways.for_account(ACCOUNT)
    clock = FixedClock(datetime.now(UTC) - timedelta(seconds=5))
    cid = client_order_id("signal-1", ACCOUNT.id, OrderLeg.ENTRY)
    entry = OrderIntent(
        id="entry-1",
        signal_id="signal-1",
        account_id=ACCOUNT.id,
        user_id=ACCOUNT.user_id,
        leg=OrderLeg.ENTRY,
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        quantity=D("0.010"),
        reduce_only=False,
        leverage=None,
        client_order_id=cid,
        created_at=clock.now(),
    )
    intents = InMemoryOrderIntentRepository()
    notifier = RecordingNotifier()
    fills = InMemoryFillRepository(intents, InMemoryGuardrailRepository())
    positions = InMemoryPositionIntentRepository(intents)
    tx = FakeTransactionManager()
    record = RecordAccountFills(
        positions,
        fills,
        gateways,
        PositionProtection(notifier),
        InMemoryTrailingStateStore(),
        notifier,
        RecordingLiveEvents(),
        tx,
        clock,
    )
    reconcile = ReconcileAccountFills(positions, gateways, record, tx)
    opened = Follower(stub, gateway, entry, intents, notifier, fills, record, reconcile)
    yield opened
    await gateways.aclose()


async def open_protected_long(follower: Follower) -> None:
    fill = await follower.gateway.place_market_order(
        OrderRequest("BTCUSDT", OrderSide.BUY, D("0.010"), follower.entry.client_order_id)
    )
    follower.entry.record_fill(fill, datetime.now(UTC))
    follower.entry.stop_loss_price, follower.entry.take_profit_price = D(60000), D(70000)
    await follower.intents.add_new([follower.entry])
    await follower.gateway.place_protective_orders(
        "BTCUSDT", PositionSide.LONG, D(60000), D(70000), follower.prefix
    )


async def next_batch(events: AsyncIterator[Sequence[AccountEvent]]) -> Sequence[AccountEvent]:
    return await asyncio.wait_for(anext(events), WAIT_SECONDS)


async def fills_until(events: AsyncIterator[Sequence[AccountEvent]], count: int) -> list[FillEvent]:
    found: list[FillEvent] = []
    while len(found) < count:
        found += [e for e in await next_batch(events) if isinstance(e, FillEvent)]
    return found


async def streaming_an_open_long(
    stream: CcxtAccountStream, follower: Follower
) -> tuple[AsyncIterator[Sequence[AccountEvent]], FillEvent]:
    """The account's stream, connected, after the entry's fill came through it."""
    events = stream.events(ACCOUNT)
    await next_batch(events)
    await open_protected_long(follower)
    [entry_fill] = await fills_until(events, 1)
    return events, entry_fill


async def test_a_take_profit_that_triggers_is_streamed_as_its_own_fill(
    stream: CcxtAccountStream, follower: Follower
) -> None:
    events, entry_fill = await streaming_an_open_long(stream, follower)
    assert entry_fill.client_order_id == follower.entry.client_order_id

    await follower.stub.fire_algo("key0", follower.prefix + "tp")
    [tp] = await fills_until(events, 1)
    # The order the algo spawned has a client id of Binance's: ALGO_UPDATE names the TP.
    assert tp.client_order_id == follower.prefix + "tp"
    assert (tp.fill.quantity, tp.order_done, tp.cause) == (D("0.010"), True, FillCause.ORDER)

    [recorded] = await follower.record(ACCOUNT, [entry_fill, tp])
    assert (recorded.leg, recorded.status) == (OrderLeg.TAKE_PROFIT, IntentStatus.FILLED)
    assert follower.notifier.events("position.") == ["position.take_profit"]
    assert follower.stub.calls("DELETE", "/fapi/v1/algoOrder") == 1  # the SL left behind
    await events.aclose()


async def test_a_dropped_connection_reconnects_and_says_so(
    stream: CcxtAccountStream, follower: Follower
) -> None:
    events = stream.events(ACCOUNT)
    await next_batch(events)
    await follower.stub.disconnect("key0")
    assert [type(e) for e in await next_batch(events)] == [StreamConnected]
    await open_protected_long(follower)
    [entry_fill] = await fills_until(events, 1)
    assert entry_fill.order_id == follower.entry.exchange_order_id
    assert follower.stub.connections == 2
    await events.aclose()


async def test_an_expired_listen_key_is_replaced(
    stream: CcxtAccountStream, follower: Follower
) -> None:
    events = stream.events(ACCOUNT)
    await next_batch(events)
    [first_key] = follower.stub.listen_keys
    await follower.stub.expire_listen_key("key0")
    assert [type(e) for e in await next_batch(events)] == [StreamConnected]
    [second_key] = follower.stub.listen_keys
    assert second_key != first_key
    await open_protected_long(follower)
    await fills_until(events, 1)  # heard on the new key
    await events.aclose()


async def test_a_liquidation_is_a_fill_of_the_exchanges_own(
    stream: CcxtAccountStream, follower: Follower
) -> None:
    events, entry_fill = await streaming_an_open_long(stream, follower)
    await follower.stub.liquidate("key0", "BTCUSDT")
    [liquidated] = await fills_until(events, 1)
    assert liquidated.cause is FillCause.LIQUIDATION
    [recorded] = await follower.record(ACCOUNT, [entry_fill, liquidated])
    assert recorded.leg is OrderLeg.LIQUIDATION
    await events.aclose()


async def test_a_missed_event_is_recorded_by_reconciliation_once(
    stream: CcxtAccountStream, follower: Follower
) -> None:
    events, _ = await streaming_an_open_long(stream, follower)
    follower.stub.drop_next["key0"] = 4  # the whole TP: both ALGO_UPDATEs, position, fill
    await follower.stub.fire_algo("key0", follower.prefix + "tp")

    since = datetime.now(UTC) - timedelta(minutes=1)
    reconciled = await follower.reconcile([(ACCOUNT, since)], 8)
    [recorded] = reconciled.recorded
    assert reconciled.failed == {}
    assert recorded.leg is OrderLeg.TAKE_PROFIT  # told apart by looking the TP up
    assert (await follower.reconcile([(ACCOUNT, since)], 8)).recorded == []  # nothing twice
    assert follower.notifier.events("position.") == ["position.take_profit"]
    await events.aclose()


async def test_the_same_event_delivered_twice_is_recorded_once(
    stream: CcxtAccountStream, follower: Follower
) -> None:
    events, _ = await streaming_an_open_long(stream, follower)
    follower.stub.duplicate_next["key0"] = 3
    await follower.stub.fire_algo("key0", follower.prefix + "sl")
    first, second = await fills_until(events, 2)
    assert first == second
    assert len(await follower.record(ACCOUNT, [first])) == 1
    assert await follower.record(ACCOUNT, [second]) == []
    assert len(follower.legs(OrderLeg.STOP_LOSS)) == 1
    assert follower.notifier.events("position.") == ["position.stop_loss"]
    await events.aclose()


async def test_the_listen_key_is_kept_alive_and_a_refused_keep_alive_reconnects(
    stub: BinanceUserStream,
) -> None:
    streams = account_streams(stub, first_backoff=0.01, keep_alive_seconds=0.1)
    events = streams.events(ACCOUNT)
    await next_batch(events)
    for _ in range(int(WAIT_SECONDS / 0.02)):
        if stub.keepalives:
            break
        await asyncio.sleep(0.02)
    assert stub.keepalives
    stub.listen_keys.clear()  # gone (as after 60 minutes): the next keep-alive is refused
    assert [type(e) for e in await next_batch(events)] == [StreamConnected]
    assert len(stub.listen_keys) == 1  # a new key
    await events.aclose()  # type: ignore[attr-defined]
    await streams.aclose()
