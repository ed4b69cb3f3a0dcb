"""CopyMasterFills on fakes: where copying starts, what a failed read leaves, what a paused
source reads, and that a fill read twice is stored and queued once.

The master has 10,000 USDT and BTCUSDT is at 40,000 throughout.
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from mimic.application.master_accounts import CopyMasterFills
from mimic.domain.accounts import SignalSource
from mimic.domain.errors import ExchangeUnavailable
from mimic.domain.master_fills import MasterAccount, MasterCursor, master_signal_id
from mimic.domain.orders import OrderSide
from mimic.domain.performance import AccountFill
from mimic.domain.positions import Position, PositionSide
from mimic.domain.signal import MirroredFill, SignalAction
from tests.fakes.exchange import FakeExchange, FakeGateways
from tests.fakes.master_accounts import InMemoryMasterAccountRepository
from tests.fakes.repositories.signals import (
    InMemorySignalRepository,
    InMemorySignalSourceRepository,
)
from tests.fakes.repositories.transactions import FakeTransactionManager
from tests.fakes.services import START, FixedClock, RecordingSignalQueue

PRICE = Decimal(40000)


class World:
    def __init__(self) -> None:
        self.clock = FixedClock(START)
        self.masters = InMemoryMasterAccountRepository()
        self.sources = InMemorySignalSourceRepository()
        self.signals = InMemorySignalRepository()
        self.queue = RecordingSignalQueue()
        self.exchange = FakeExchange(mark_prices={"BTCUSDT": PRICE}, clock=self.clock)
        self.gateways = FakeGateways({"master-account": self.exchange}, supported=["paper"])
        self.copy = CopyMasterFills(
            self.masters,
            self.sources,
            self.signals,
            self.gateways,
            FakeTransactionManager(),
            self.queue,
            self.clock,
            fanout_parts=2,
        )
        self.trades = 0

    async def attach(self, *, active: bool = True) -> None:
        await self.sources.add(SignalSource("src", "Own", "hash", active=active))
        account = MasterAccount("master-account", "src", "paper", ("BTCUSDT",), START)
        await self.masters.add(account, None)

    def fill(self, side: OrderSide, quantity: str, *, after: timedelta) -> str:
        self.trades += 1
        trade_id = str(100 + self.trades)
        self.exchange.fills.append(
            AccountFill(
                trade_id, "BTCUSDT", side, Decimal(quantity), PRICE, Decimal(0), None, START + after
            )
        )
        return trade_id


@pytest.fixture
async def world() -> World:
    return World()


async def test_copying_starts_at_the_first_read_from_the_masters_position_then(
    world: World,
) -> None:
    await world.attach()
    world.exchange.positions["BTCUSDT"] = Position(
        "BTCUSDT", PositionSide.LONG, Decimal("0.08"), PRICE, 5
    )
    world.fill(OrderSide.BUY, "0.08", after=timedelta(seconds=-5))  # before: never copied
    assert await world.copy() == 0
    assert await world.masters.cursors("src") == {
        "BTCUSDT": MasterCursor("BTCUSDT", START, frozenset(), Decimal("0.08"))
    }
    # selling 0.02 of the 0.08 held before attaching: a quarter
    trade = world.fill(OrderSide.SELL, "0.02", after=timedelta(seconds=1))
    assert await world.copy() == 1
    signal = await world.signals.get(master_signal_id("src", trade))
    assert signal is not None
    assert signal.params.action is SignalAction.CLOSE
    assert signal.params.mirrored == MirroredFill(close_fraction=Decimal("0.25"))
    assert signal.dedupe_key == f"trade:{trade}"
    assert world.queue.parts == [(signal.id, 0), (signal.id, 1)]  # every fan-out part
    assert (await world.masters.cursors("src"))["BTCUSDT"].position == Decimal("0.06")


async def test_fills_of_one_read_are_stored_in_the_masters_order_a_microsecond_apart(
    world: World,
) -> None:
    await world.attach()
    await world.copy()
    world.clock.advance(timedelta(seconds=10))
    opened = world.fill(OrderSide.BUY, "0.05", after=timedelta(seconds=1))
    closed = world.fill(OrderSide.SELL, "0.05", after=timedelta(seconds=2))
    assert await world.copy() == 2
    first = await world.signals.get(master_signal_id("src", opened))
    second = await world.signals.get(master_signal_id("src", closed))
    assert first is not None
    assert second is not None
    # 0.05 x 40,000 / 10,000 = 0.2 of the master's equity
    assert first.params.mirrored == MirroredFill(equity_fraction=Decimal("0.2"))
    assert second.received_at - first.received_at == timedelta(microseconds=1)
    assert world.queue.enqueued == [first.id, first.id, second.id, second.id]


async def test_a_failed_read_moves_no_cursor_and_the_next_read_copies_the_fill(
    world: World,
) -> None:
    await world.attach()
    await world.copy()
    trade = world.fill(OrderSide.BUY, "0.05", after=timedelta(seconds=1))
    world.exchange.read_error = ExchangeUnavailable("503 from the exchange")
    assert await world.copy() == 0
    assert (await world.masters.cursors("src"))["BTCUSDT"].since == START
    world.exchange.read_error = None
    assert await world.copy() == 1
    assert await world.signals.get(master_signal_id("src", trade)) is not None


async def test_a_fill_read_again_is_stored_and_queued_once(world: World) -> None:
    await world.attach()
    await world.copy()
    world.fill(OrderSide.BUY, "0.05", after=timedelta(seconds=1))
    before = await world.masters.cursors("src")
    assert await world.copy() == 1
    # A second reader that read the cursor before the first one saved it (two polls at once)
    world.masters.rewind("src", before)
    assert await world.copy() == 0
    assert len(world.queue.enqueued) == 2  # the one signal's two parts


async def test_a_paused_source_is_not_read(world: World) -> None:
    await world.attach(active=False)
    assert await world.copy() == 0
    assert world.exchange.calls == []


async def test_one_account_that_cannot_be_read_does_not_stop_the_others(world: World) -> None:
    await world.attach()
    await world.sources.add(SignalSource("broken", "Broken", "hash-2"))
    # Its exchange is not connected at all: every read fails.
    await world.masters.add(
        MasterAccount("unreachable", "broken", "paper", ("BTCUSDT",), START), None
    )
    await world.copy()
    trade = world.fill(OrderSide.BUY, "0.05", after=timedelta(seconds=1))
    world.fill(OrderSide.BUY, "0", after=timedelta(seconds=2))  # no quantity: ignored
    assert await world.copy() == 1
    assert await world.signals.get(master_signal_id("src", trade)) is not None
