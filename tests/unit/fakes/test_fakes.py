"""The fakes honour the port contracts the interactor tests rely on."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from mimic.domain.accounts import ConnectionStatus, ExchangeAccount, Role, User
from mimic.domain.errors import (
    BelowMinNotional,
    Conflict,
    InvalidPrecision,
    ReduceOnlyRejected,
    UnknownSymbol,
)
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg, OrderRequest, OrderSide
from mimic.domain.positions import PositionSide
from mimic.domain.signal import Signal, SignalAction, SignalParams, SignalStatus
from tests.fakes.exchange import FakeExchange
from tests.fakes.repositories.exchange_accounts import InMemoryExchangeAccountRepository
from tests.fakes.repositories.order_intents import InMemoryOrderIntentRepository
from tests.fakes.repositories.signals import InMemorySignalRepository
from tests.fakes.repositories.users import InMemoryUserRepository
from tests.fakes.services import START

D = Decimal
LEASE = timedelta(seconds=60)


def user(name: str, *, active: bool = True) -> User:
    return User(name, name, f"{name}@example.com", "plain$x", Role.USER, START, active=active)


def intent(intent_id: str, leg: OrderLeg = OrderLeg.ENTRY, account: str = "a") -> OrderIntent:
    return OrderIntent(
        id=intent_id,
        signal_id="s",
        account_id=account,
        user_id="u",
        leg=leg,
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        quantity=D("0.01"),
        reduce_only=False,
        leverage=5,
        client_order_id=f"mimic-{intent_id}",
        created_at=START,
    )


def signal(signal_id: str, key: str, *, seconds: int = 0, symbol: str = "BTCUSDT") -> Signal:
    return Signal(
        id=signal_id,
        source_id="master",
        params=SignalParams(symbol=symbol, action=SignalAction.LONG),
        dedupe_key=key,
        received_at=START + timedelta(seconds=seconds),
    )


async def test_repositories_hand_out_copies() -> None:
    users = InMemoryUserRepository()
    alice = user("alice")
    await users.add(alice)
    alice.active = False
    loaded = await users.get("alice")
    assert loaded is not None
    assert loaded.active is True
    loaded.email = "changed@example.com"
    again = await users.get("alice")
    assert again is not None
    assert again.email == "alice@example.com"


async def test_user_uniqueness() -> None:
    users = InMemoryUserRepository()
    await users.add(user("alice"))
    with pytest.raises(Conflict, match="username"):
        await users.add(replace(user("alice"), id="other", email="x@example.com"))
    with pytest.raises(Conflict, match="email"):
        await users.add(replace(user("bob"), email="alice@example.com"))


async def test_copy_candidates_are_approved_accounts_of_active_users() -> None:
    users = InMemoryUserRepository()
    accounts = InMemoryExchangeAccountRepository(users)
    await users.add(user("alice"))
    await users.add(user("idle", active=False))
    for account_id, owner, status in [
        ("a1", "alice", ConnectionStatus.APPROVED),
        ("a2", "alice", ConnectionStatus.PENDING),
        ("a3", "idle", ConnectionStatus.APPROVED),
    ]:
        await accounts.add(ExchangeAccount(account_id, owner, "paper", "p", START, status))
    await accounts.add(
        ExchangeAccount("a4", "alice", "paper", "p", START, ConnectionStatus.APPROVED, False)
    )

    candidates = await accounts.list_copy_candidates()

    assert [(a.id, u.username) for a, u in candidates] == [("a1", "alice"), ("a4", "alice")]
    assert await accounts.list_copy_candidates(monitored_only=True) == []


async def test_add_unless_duplicate_window() -> None:
    signals = InMemorySignalRepository()
    first, duplicate = await signals.add_unless_duplicate(
        signal("s1", "body:h"), expiring_after=START - LEASE
    )
    assert (first.id, duplicate) == ("s1", False)
    inside = await signals.add_unless_duplicate(
        signal("s2", "body:h", seconds=30), expiring_after=START - timedelta(seconds=1)
    )
    assert (inside[0].id, inside[1]) == ("s1", True)
    outside = await signals.add_unless_duplicate(
        signal("s3", "body:h", seconds=90), expiring_after=START
    )
    assert (outside[0].id, outside[1]) == ("s3", False)
    by_id = await signals.add_unless_duplicate(
        signal("s4", "id:x", seconds=0), expiring_after=START
    )
    assert by_id[1] is False
    never_expires = await signals.add_unless_duplicate(
        signal("s5", "id:x", seconds=9999), expiring_after=START + timedelta(days=1)
    )
    assert (never_expires[0].id, never_expires[1]) == ("s4", True)


async def test_has_unfinished_before_breaks_ties_by_id() -> None:
    signals = InMemorySignalRepository()
    for s in (signal("b", "id:b"), signal("a", "id:a"), signal("c", "id:c", symbol="ETHUSDT")):
        await signals.add_unless_duplicate(s, expiring_after=START)
    assert await signals.has_unfinished_before(signal("b", "id:b")) is True
    assert await signals.has_unfinished_before(signal("a", "id:a")) is False
    assert await signals.has_unfinished_before(signal("c", "id:c", symbol="ETHUSDT")) is False
    await signals.set_status("a", SignalStatus.DONE)
    assert await signals.has_unfinished_before(signal("b", "id:b")) is False


async def test_add_new_ignores_an_existing_signal_account_leg() -> None:
    intents = InMemoryOrderIntentRepository()
    await intents.add_new([intent("i1"), intent("i2", OrderLeg.CLOSE)])
    await intents.add_new([intent("i3"), intent("i4", account="b"), intent("i5", account="b")])
    assert sorted(i.id for i in await intents.list_for_signal("s")) == ["i1", "i2", "i4"]


async def test_claim_leases_and_counts_attempts() -> None:
    intents = InMemoryOrderIntentRepository()
    await intents.add_new([intent("i1"), intent("i2", OrderLeg.CLOSE)])

    first = await intents.claim(["i2", "i1"], now=START, lease_until=START + LEASE)
    assert [(i.id, i.attempts, i.status) for i in first] == [
        ("i2", 1, IntentStatus.SUBMITTING),
        ("i1", 1, IntentStatus.SUBMITTING),
    ]
    assert await intents.claim(["i1", "i2"], now=START + LEASE, lease_until=START) == []

    first[0].reject("no", START)
    await intents.save_results(first[:1])
    later = START + LEASE + timedelta(seconds=1)
    again = await intents.claim(["i1", "i2"], now=later, lease_until=later + LEASE)
    assert [(i.id, i.attempts) for i in again] == [("i1", 2)]

    again[0].retry_later("unknown", later)
    await intents.save_results(again)
    # As the port says (and the SQL adapter does): a pending intent is claimable at once.
    third = await intents.claim(["i1"], now=later, lease_until=later + LEASE)
    assert [(i.id, i.attempts) for i in third] == [("i1", 3)]


async def test_fake_exchange_enforces_the_real_rules() -> None:
    exchange = FakeExchange(mark_prices={"BTCUSDT": D(65000), "DOGEUSDT": D("0.1")})

    def request(symbol: str, side: OrderSide, qty: str, *, reduce: bool = False) -> OrderRequest:
        return OrderRequest(symbol, side, D(qty), f"c-{len(exchange.requests)}", reduce)

    with pytest.raises(InvalidPrecision):
        await exchange.place_market_order(request("BTCUSDT", OrderSide.BUY, "0.0015"))
    with pytest.raises(BelowMinNotional):
        await exchange.place_market_order(request("DOGEUSDT", OrderSide.BUY, "49"))
    with pytest.raises(ReduceOnlyRejected):
        await exchange.place_market_order(request("BTCUSDT", OrderSide.SELL, "0.01", reduce=True))
    with pytest.raises(UnknownSymbol):
        await exchange.place_market_order(request("FOOUSDT", OrderSide.BUY, "1"))
    assert exchange.placed == []


async def test_fake_exchange_books_positions_through_a_flip() -> None:
    exchange = FakeExchange(mark_prices={"BTCUSDT": D(60000)})
    exchange.set_position("BTCUSDT", PositionSide.SHORT, D("0.010"), entry_price=D(65000))

    await exchange.place_market_order(OrderRequest("BTCUSDT", OrderSide.BUY, D("0.015"), "c1"))

    position = exchange.positions["BTCUSDT"]
    assert (position.side, position.quantity, position.entry_price) == (
        PositionSide.LONG,
        D("0.005"),
        D(60000),
    )
    # Closed 0.01 short at 60000 from 65000: +50 USDT; fee 0.015 x 60000 x 0.04 % = 0.36
    assert exchange.wallet_balance == D(10000) + D(50) - D("0.36")
    assert (await exchange.find_order("BTCUSDT", "c1")) == exchange.orders["c1"]
    assert await exchange.find_order("ETHUSDT", "c1") is None
    assert await exchange.find_order("BTCUSDT", "nope") is None
