"""Trades and the leaderboard by signal source, through ViewPerformance and the fakes."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

import pytest

from mimic.application.performance_reports import Period, TradeCache, ViewPerformance
from mimic.application.portfolio import ViewPortfolio
from mimic.application.signal_reports import ReportSignals
from mimic.domain.accounts import Role, SignalSource, User
from mimic.domain.errors import InvalidField
from mimic.domain.orders import OrderFilters, OrderIntent, OrderLeg, OrderSide
from mimic.domain.performance import AccountFill, TradeFilters
from mimic.domain.signal import Signal, SignalAction, SignalParams
from tests.fakes.exchange import FakeGateways
from tests.fakes.panic import InMemoryPanicCloses
from tests.fakes.performance import (
    InMemoryBalanceSnapshotRepository,
    InMemoryFillRepository,
    InMemoryGuardrailRepository,
)
from tests.fakes.repositories.exchange_accounts import InMemoryExchangeAccountRepository
from tests.fakes.repositories.order_intents import InMemoryOrderIntentRepository
from tests.fakes.repositories.signals import (
    InMemorySignalRepository,
    InMemorySignalSourceRepository,
)
from tests.fakes.repositories.users import InMemoryUserRepository
from tests.fakes.services import START, FixedClock


def intent(intent_id: str) -> OrderIntent:
    """An entry order of signal "s"; a test replaces what it is about."""
    return OrderIntent(
        id=intent_id,
        signal_id="s",
        account_id="a",
        user_id="u",
        leg=OrderLeg.ENTRY,
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        quantity=D("0.01"),
        reduce_only=False,
        leverage=5,
        client_order_id=f"mimic-{intent_id}",
        created_at=START,
    )


def fill(n: int, side: OrderSide, price: str) -> AccountFill:
    """Fill n executed exchange order "x-<n>"."""
    return AccountFill(
        fill_id=f"f{n}",
        symbol="BTCUSDT",
        side=side,
        quantity=D("0.01"),
        price=D(price),
        fee=D(0),
        realized_pnl=None,
        executed_at=START + timedelta(minutes=n),
        order_id=f"x-{n}",
    )


async def placed_for(intents: InMemoryOrderIntentRepository, source: str, n: int) -> None:
    """Exchange order "x-<n>" of ann's or bob's account was placed for a signal of `source`:
    that is how a fill learns its source (the repository reads it from the orders)."""
    signal = Signal(
        id=f"sig-{n}",
        source_id=source,
        params=SignalParams(symbol="BTCUSDT", action=SignalAction.LONG),
        dedupe_key=f"id:{n}",
        received_at=START,
    )
    await intents.signals.add_unless_duplicate(signal, expiring_after=START)
    user = "ann" if n < 5 else "bob"
    order = replace(intent(f"i{n}"), signal_id=signal.id, account_id=f"acc-{user}", user_id=user)
    order.exchange_order_id = f"x-{n}"
    await intents.add_new([order])


async def view() -> ViewPerformance:
    users = InMemoryUserRepository()
    for name in ("ann", "bob"):
        await users.add(User(name, name, f"{name}@example.com", "plain$x", Role.USER, START))
    sources = InMemorySignalSourceRepository()
    await sources.add(SignalSource("swing", "Swing", "hash-1"))
    await sources.add(SignalSource("scalp", "Scalp", "hash-2"))
    guardrails = InMemoryGuardrailRepository()
    intents = InMemoryOrderIntentRepository()
    # ann: +10 on a trade Swing opened, -5 on one opened by hand; bob: +20 on one Scalp opened.
    for source, n in (("swing", 1), ("swing", 4), ("scalp", 5)):
        await placed_for(intents, source, n)
    fills = InMemoryFillRepository(intents, guardrails)
    await fills.add_new(
        [
            ("acc-ann", "ann", fill(1, OrderSide.BUY, "60000")),
            ("acc-ann", "ann", fill(2, OrderSide.SELL, "61000")),
            ("acc-ann", "ann", fill(3, OrderSide.BUY, "60000")),
            ("acc-ann", "ann", fill(4, OrderSide.SELL, "59500")),
            ("acc-bob", "bob", fill(5, OrderSide.SELL, "62000")),
            ("acc-bob", "bob", fill(6, OrderSide.BUY, "60000")),
        ]
    )
    return ViewPerformance(
        users,
        InMemoryExchangeAccountRepository(users),
        fills,
        InMemoryBalanceSnapshotRepository(),
        guardrails,
        FixedClock(START + timedelta(hours=1)),
        TradeCache(),
        sources,
    )


async def test_trades_filter_by_the_source_that_opened_them() -> None:
    performance = await view()
    everything = await performance.trades("ann", limit=10)
    assert [t.source_id for t in everything] == [None, "swing"]  # newest first
    [swing] = await performance.trades("ann", limit=10, filters=TradeFilters(source_id="swing"))
    assert swing.net_pnl == D(10)
    assert await performance.trades("ann", limit=10, filters=TradeFilters(source_id="scalp")) == []
    assert await performance.source_names() == {"swing": "Swing", "scalp": "Scalp"}


async def test_the_leaderboard_of_one_source_counts_only_its_trades() -> None:
    performance = await view()
    everyone = await performance.leaderboard(Period.ALL)
    ranked = [(s.username, s.pnl, s.trades) for s in everyone]
    assert ranked == [("bob", D(20), 1), ("ann", D(5), 2)]
    swing = await performance.leaderboard(Period.ALL, "swing")
    assert [(s.username, s.pnl, s.trades) for s in swing] == [("ann", D(10), 1)]


async def test_an_unknown_source_is_refused_naming_the_field() -> None:
    performance = await view()
    for call in (
        performance.leaderboard(Period.ALL, "gone"),
        performance.trades("ann", limit=10, filters=TradeFilters(source_id="gone")),
        performance.trade_page("ann", TradeFilters(source_id="gone"), offset=0, limit=10),
    ):
        with pytest.raises(InvalidField) as refused:
            await call
        assert refused.value.field == "source"


async def test_signals_and_orders_filter_by_source() -> None:
    signals = InMemorySignalRepository()
    intents = InMemoryOrderIntentRepository()
    intents.signals = signals
    for n, source in enumerate(("swing", "scalp")):
        received = Signal(
            id=f"sig-{source}",
            source_id=source,
            params=SignalParams(symbol="BTCUSDT", action=SignalAction.LONG),
            dedupe_key=source,
            received_at=START + timedelta(seconds=n),
        )
        await signals.add_unless_duplicate(received, expiring_after=START)
    await intents.add_new(
        [
            replace(intent(f"o-{source}"), signal_id=f"sig-{source}", user_id="ann")
            for source in ("swing", "scalp")
        ]
    )
    panic = InMemoryPanicCloses()
    panic.closes["p"] = replace(intent("p"), signal_id="panic:run", user_id="ann")
    reports = ReportSignals(signals, intents)
    assert [s.id for s in await reports.list_recent(10, "swing")] == ["sig-swing"]
    assert len(await reports.list_recent(10)) == 2

    portfolio = ViewPortfolio(
        InMemoryExchangeAccountRepository(InMemoryUserRepository()),
        intents,
        FakeGateways(),
        panic,
        signals,
    )
    assert [o.id for o in await portfolio.orders("ann", 10, "swing")] == ["o-swing"]
    assert {o.id for o in await portfolio.orders("ann", 10)} == {"o-swing", "o-scalp", "p"}
    assert OrderFilters(source_id="swing").admits(intent("x"), "swing")
    assert not OrderFilters(source_id="swing").admits(intent("x"))  # an order of no signal
