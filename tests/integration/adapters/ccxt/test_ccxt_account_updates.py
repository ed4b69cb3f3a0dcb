"""Positions, balances and liquidations on Binance's user data stream, through real ccxt.pro
against the WebSocket stub, with messages Binance really sent (tests/data/binance_user_data).

A position that went flat with no fill the stream told (the fill was lost, or never sent)
is recorded all the same: the holder reconciles the account by REST. New connections are
paced, as Binance limits how many an IP opens.
"""

import asyncio
import json
import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from mimic.adapters.ccxt.account_stream import CcxtAccountStream
from mimic.adapters.ccxt.budget import WeightBudget
from mimic.adapters.memory.stream_leases import SoleHolderLeases
from mimic.adapters.system import SystemClock
from mimic.application.hold_account_streams import HoldAccountStreams, StreamFeed, StreamPolicy
from mimic.domain.account_events import (
    AccountEvent,
    BalanceEvent,
    FillCause,
    FillEvent,
    PositionEvent,
)
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.orders import OrderIntent, OrderLeg
from mimic.ports.account_events import AccountStreamWork
from tests.fakes.metrics import RecordingMetrics
from tests.integration.adapters.ccxt import test_ccxt_account_stream as streaming
from tests.integration.adapters.ccxt.test_ccxt_account_stream import (
    ACCOUNT,
    WAIT_SECONDS,
    Follower,
    account_streams,
    next_batch,
    open_protected_long,
)
from tests.stubs.binance_user_stream import BinanceUserStream

D = Decimal
# The stub, the account's stream and the follower with a protected long: the same fixtures.
stub, stream, follower = streaming.stub, streaming.stream, streaming.follower
SAMPLES = Path(__file__).resolve().parents[3] / "data" / "binance_user_data"


def sample(name: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return message.get("data", message)  # nautilus's samples are in a combined envelope


async def events_of(
    stub: BinanceUserStream, stream: CcxtAccountStream, messages: list[dict[str, Any]]
) -> list[AccountEvent]:
    """What the account's stream makes of these messages, pushed as Binance would."""
    events = stream.events(ACCOUNT)
    await next_batch(events)  # connected
    for message in messages:
        await stub.push("key0", message)
    found: list[AccountEvent] = []
    while not any(isinstance(e, FillEvent) for e in found):  # each list here ends in a fill
        found += await next_batch(events)
    await events.aclose()  # type: ignore[attr-defined]
    return found


async def test_a_captured_fill_comes_with_the_position_it_left(
    stub: BinanceUserStream, stream: CcxtAccountStream
) -> None:
    messages = [sample(f"fill_sequence_{n}") for n in ("1_trade_lite.json",)]
    messages += [
        sample("fill_sequence_2_account_update_order.json"),
        sample("fill_sequence_3_order_trade_update_limit_filled_maker.json"),
    ]
    balance, position, fill = await events_of(stub, stream, messages)
    assert balance == BalanceEvent(
        "USDC", D("37.87866827"), datetime.fromtimestamp(1776789210.247, UTC)
    )
    assert isinstance(position, PositionEvent)
    assert (position.symbol, position.quantity, position.entry_price) == (
        "ETHUSDC",
        D("0.02"),
        D("2317.3"),
    )
    assert isinstance(fill, FillEvent)  # TRADE_LITE told the same fill: it is not twice
    assert (fill.fill.fill_id, fill.client_order_id) == (
        "702423109",
        "web_coin_px06wttcjgaebeca9w5ijo3",
    )
    assert (fill.fill.fee, fill.order_done, fill.position_after) == (D(0), True, D("0.02"))


async def test_positions_and_balances_of_an_account_update_are_events(
    stub: BinanceUserStream, stream: CcxtAccountStream
) -> None:
    funding = sample("account_update_funding_fee_cross.json")
    documented = sample("account_update_order.json")
    fill = sample("fill_sequence_3_order_trade_update_limit_filled_maker.json")
    found = await events_of(stub, stream, [funding, documented, fill])
    balances = [(e.currency, e.wallet_balance) for e in found if isinstance(e, BalanceEvent)]
    assert balances == [
        ("USDC", D("38.17806885")),  # a funding fee: the balance only
        ("USDT", D("122624.12345678")),
        ("BUSD", D(1)),
    ]
    positions = [(e.symbol, e.quantity) for e in found if isinstance(e, PositionEvent)]
    assert positions == [("BTCUSDT", D(0)), ("BTCUSDT", D(20)), ("BTCUSDT", D(-10))]
    [filled] = [e for e in found if isinstance(e, FillEvent)]
    assert filled.position_after is None  # no ACCOUNT_UPDATE of that moment: read if needed


def now_ms(message: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {**message, "E": now, "T": now, "o": {**message["o"], "T": now}}


async def test_exchange_closes_are_liquidations_by_client_id_or_order_type(
    stub: BinanceUserStream, stream: CcxtAccountStream, follower: Follower
) -> None:
    liquidation = now_ms(sample("order_update_liquidation.json"))
    adl = sample("order_update_adl.json")
    by_type = {
        **liquidation,
        "o": {**liquidation["o"], "c": "x-9", "x": "TRADE", "o": "LIQUIDATION", "t": 7},
    }
    for message in (liquidation, adl, by_type):
        [event] = [e for e in await events_of(stub, stream, [message]) if isinstance(e, FillEvent)]
        assert event.cause is FillCause.LIQUIDATION, message["o"]
    await open_protected_long(follower)
    [recorded] = await follower.record(ACCOUNT, await events_of(stub, stream, [by_type]))
    assert recorded.leg is OrderLeg.LIQUIDATION


class FollowerWork(AccountStreamWork):
    """The holder's work over the follower's in-memory books."""

    def __init__(self, follower: Follower) -> None:
        self._follower = follower

    async def streamed(self) -> dict[str, str]:
        return {ACCOUNT.id: ACCOUNT.exchange}

    async def accounts(self, account_ids: Collection[str]) -> list[ExchangeAccount]:
        return [ACCOUNT]

    async def record(
        self, batches: Sequence[tuple[ExchangeAccount, Sequence[AccountEvent]]]
    ) -> tuple[list[tuple[ExchangeAccount, OrderIntent]], dict[str, Exception]]:
        outcome = await self._follower.record.record_many_isolated(batches)
        return outcome.flat, outcome.failed

    async def release(self, flat: Sequence[tuple[ExchangeAccount, OrderIntent]]) -> None:
        await self._follower.record.release(flat)

    async def reconcile(
        self, accounts: Sequence[tuple[ExchangeAccount, datetime]], at_once: int
    ) -> dict[str, Exception]:
        return (await self._follower.reconcile(accounts, at_once)).failed


async def test_a_position_gone_flat_with_its_fill_lost_is_recorded_by_reconciliation(
    stub: BinanceUserStream, stream: CcxtAccountStream, follower: Follower
) -> None:
    policy = StreamPolicy(flat_grace=timedelta(milliseconds=200))
    holder = HoldAccountStreams(
        [StreamFeed(stream)],
        SoleHolderLeases(),
        FollowerWork(follower),
        SystemClock(),
        RecordingMetrics(),
        policy,
    )
    await holder.refresh()
    await open_protected_long(follower)
    for _ in range(int(WAIT_SECONDS / 0.05)):  # streaming, and its first reconciliation over
        if stub.streaming("key0") and stub.calls("GET", "/fapi/v1/userTrades"):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    stub.drop_kinds = {"ORDER_TRADE_UPDATE"}  # the stream tells the position, not the fill
    await stub.fire_algo("key0", follower.prefix + "tp")
    for _ in range(int(WAIT_SECONDS / 0.05)):
        if follower.legs(OrderLeg.TAKE_PROFIT):
            break
        await asyncio.sleep(0.05)
    await holder.stop()
    [recorded] = follower.legs(OrderLeg.TAKE_PROFIT)
    assert recorded.filled_quantity == D("0.010")
    assert follower.notifier.events("position.") == ["position.take_profit"]


async def test_new_connections_are_paced(stub: BinanceUserStream) -> None:
    """Two connections a second at most (one at once): the reconnection waits its turn."""
    connects = WeightBudget(2, window_seconds=1.0, burst_fraction=0.5)
    paced = account_streams(stub, clock=SystemClock(), first_backoff=0.01, connects=connects)
    events = paced.events(ACCOUNT)
    await next_batch(events)
    started = time.monotonic()
    await stub.disconnect("key0")
    await next_batch(events)  # connected again
    assert time.monotonic() - started >= 0.8  # not after the 0.01 s backoff alone
    assert (connects.spent, stub.connections) == (2, 2)
    await events.aclose()  # type: ignore[attr-defined]
    await paced.aclose()
