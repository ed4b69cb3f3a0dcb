"""The worker side of the fan-out, over in-memory repositories and fake exchanges.

Defaults of the platform: risk 1 %, leverage 5 (caps 10 % and 20x). Every follower starts
with 10,000 USDT; BTCUSDT is marked at 65,000, DOGEUSDT at 0.12345. Fees are 0.04 %.
"""

import dataclasses
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from mimic.adapters.price_feeds import PriceFeedsByExchange
from mimic.application.copy_fidelity import RecentFidelity, ViewCopyFidelity
from mimic.application.execute_signal import ExecuteSignal
from mimic.application.guardrails import DailyGuardrails
from mimic.application.payment_settings import SubscriptionGate
from mimic.application.position_protection import PositionProtection
from mimic.application.signal_planning import ExecutionPolicy, ExecutionSummary
from mimic.application.signal_reports import ReportSignals, account_outcome
from mimic.application.sweep_signals import SweepUnfinishedSignals
from mimic.domain.accounts import ConnectionStatus, ExchangeAccount, Role, User
from mimic.domain.errors import (
    ExchangeUnavailable,
    InsufficientMargin,
    InvalidField,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    ReduceOnlyRejected,
)
from mimic.domain.fanout import FanoutPart
from mimic.domain.fidelity import copy_fidelity
from mimic.domain.orders import (
    IntentStatus,
    OrderIntent,
    OrderLeg,
    OrderRequest,
    OrderSide,
    client_order_id,
)
from mimic.domain.positions import Position, PositionSide
from mimic.domain.risk import FollowerRiskSettings, UserCaps
from mimic.domain.signal import Signal, SignalAction, SignalParams, SignalStatus
from mimic.ports.live_events import ADMINS, user_audience
from tests.fakes.exchange import FakeExchange, FakeGateways
from tests.fakes.fidelity import InMemoryFidelityReader
from tests.fakes.live_events import RecordingLiveEvents
from tests.fakes.notifications import InMemoryOutbox
from tests.fakes.payments import InMemoryPaymentSettingsRepository, InMemorySubscriptionRepository
from tests.fakes.performance import InMemoryGuardrailRepository
from tests.fakes.protection import DictPriceFeed
from tests.fakes.repositories.exchange_accounts import InMemoryExchangeAccountRepository
from tests.fakes.repositories.follows import InMemorySourceFollowRepository
from tests.fakes.repositories.order_intents import InMemoryOrderIntentRepository
from tests.fakes.repositories.platform_settings import InMemorySettingsRepository
from tests.fakes.repositories.signals import (
    InMemorySignalRepository,
    InMemorySignalSourceRepository,
)
from tests.fakes.repositories.transactions import FakeTransactionManager
from tests.fakes.repositories.users import InMemoryUserRepository
from tests.fakes.services import START, FixedClock, RecordingNotifier, RecordingSignalQueue

D = Decimal
BTC_PRICE = D(65000)
PRICES = {"BTCUSDT": BTC_PRICE, "ETHUSDT": D(3500), "DOGEUSDT": D("0.12345")}
POLICY = ExecutionPolicy()
PAST_THE_LEASE = POLICY.lease + timedelta(seconds=1)
ADMIN = User(
    id="admin",
    username="admin",
    email="admin@example.com",
    password_hash="plain$irrelevant",
    role=Role.ADMIN,
    created_at=START,
)


class WorkerCrashed(Exception):
    """Stands for the worker process dying in the middle of a request."""


@dataclass
class Follower:
    user: User
    account: ExchangeAccount
    exchange: FakeExchange

    def cid(self, signal: Signal, leg: OrderLeg = OrderLeg.ENTRY) -> str:
        return client_order_id(signal.id, self.account.id, leg)

    def order(
        self,
        signal: Signal,
        side: OrderSide,
        quantity: str,
        *,
        leg: OrderLeg = OrderLeg.ENTRY,
        reduce_only: bool = False,
    ) -> OrderRequest:
        return OrderRequest(
            signal.params.symbol, side, D(quantity), self.cid(signal, leg), reduce_only
        )


@dataclass
class World:
    clock: FixedClock = field(default_factory=FixedClock)
    users: InMemoryUserRepository = field(default_factory=InMemoryUserRepository)
    signals: InMemorySignalRepository = field(default_factory=InMemorySignalRepository)
    intents: InMemoryOrderIntentRepository = field(default_factory=InMemoryOrderIntentRepository)
    settings: InMemorySettingsRepository = field(default_factory=InMemorySettingsRepository)
    gateways: FakeGateways = field(default_factory=FakeGateways)
    tx: FakeTransactionManager = field(default_factory=FakeTransactionManager)
    payment_settings: InMemoryPaymentSettingsRepository = field(
        default_factory=InMemoryPaymentSettingsRepository
    )
    subscriptions: InMemorySubscriptionRepository = field(
        default_factory=InMemorySubscriptionRepository
    )
    guardrail_days: InMemoryGuardrailRepository = field(default_factory=InMemoryGuardrailRepository)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    outbox: InMemoryOutbox = field(default_factory=InMemoryOutbox)
    # What the fan-out queued: the signals it resumed after finishing the one before.
    queue: RecordingSignalQueue = field(default_factory=RecordingSignalQueue)
    live: RecordingLiveEvents = field(default_factory=RecordingLiveEvents)
    follows: InMemorySourceFollowRepository = field(default_factory=InMemorySourceFollowRepository)
    sources: InMemorySignalSourceRepository = field(default_factory=InMemorySignalSourceRepository)
    # The paper exchange's price feed (planning a close reads no mark price).
    feed: DictPriceFeed = field(default_factory=DictPriceFeed)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.accounts = InMemoryExchangeAccountRepository(self.users)

    def executor(self, policy: ExecutionPolicy = POLICY) -> ExecuteSignal:
        """A new instance each time, as a new job (or a restarted worker) would build it."""
        return ExecuteSignal(
            self.signals,
            self.accounts,
            self.intents,
            self.settings,
            self.gateways,
            self.tx,
            self.clock,
            policy,
            SubscriptionGate(self.payment_settings, self.subscriptions, self.clock),
            PositionProtection(self.notifier),
            DailyGuardrails(self.guardrail_days, self.notifier, self.clock),
            self.outbox,
            self.queue,
            self.live,
            self.follows,
            PriceFeedsByExchange({"paper": self.feed}),
        )

    async def run(
        self, signal: Signal, policy: ExecutionPolicy = POLICY, *, part: int = 0
    ) -> ExecutionSummary:
        return await self.executor(policy)(signal.id, part)

    async def follower(
        self,
        name: str,
        *,
        equity: int | str = 10000,
        risk_perc: str | None = None,
        leverage: int | None = None,
        paused: bool = False,
        caps: UserCaps | None = None,
        enabled: bool = True,
        status: ConnectionStatus = ConnectionStatus.APPROVED,
        active: bool = True,
        reachable: bool = True,
        account_id: str | None = None,
    ) -> Follower:
        n = next(self._ids)
        user = User(
            id=f"user-{n:02d}-{name}",
            username=name,
            email=f"{name}@example.com",
            password_hash="plain$irrelevant",
            role=Role.USER,
            created_at=self.clock.now(),
            active=active,
            settings=FollowerRiskSettings(
                risk_perc=None if risk_perc is None else D(risk_perc),
                leverage=leverage,
                paused=paused,
            ),
            caps=caps or UserCaps(),
        )
        account = ExchangeAccount(
            id=account_id or f"acct-{n:02d}-{name}",
            user_id=user.id,
            exchange="paper",
            label=name,
            created_at=self.clock.now(),
            status=status,
            enabled=enabled,
        )
        await self.users.add(user)
        await self.accounts.add(account)
        exchange = FakeExchange(equity=D(equity), mark_prices=PRICES)
        if reachable:
            self.gateways.add(account.id, exchange)
        return Follower(user, account, exchange)

    async def signal(
        self,
        action: SignalAction = SignalAction.LONG,
        symbol: str = "BTCUSDT",
        *,
        risk_perc: str | None = None,
        leverage: int | None = None,
        source_id: str = "master",
        fanout_parts: int = 1,
    ) -> Signal:
        n = next(self._ids)
        signal = Signal(
            id=f"signal-{n:02d}",
            source_id=source_id,
            params=SignalParams(
                symbol=symbol,
                action=action,
                risk_perc=None if risk_perc is None else D(risk_perc),
                leverage=leverage,
            ),
            dedupe_key=f"id:signal-{n:02d}",
            received_at=self.clock.now(),
            fanout_parts=fanout_parts,
        )
        stored, duplicate = await self.signals.add_unless_duplicate(
            signal, expiring_after=self.clock.now()
        )
        assert not duplicate
        return stored

    async def legs(self, signal: Signal, follower: Follower) -> list[OrderIntent]:
        """The follower's intents for `signal`, close leg first."""
        legs = [
            i
            for i in await self.intents.list_for_signal(signal.id)
            if i.account_id == follower.account.id
        ]
        return sorted(legs, key=lambda i: i.leg is not OrderLeg.CLOSE)

    async def outcome(self, signal: Signal, follower: Follower) -> list[tuple[str, str | None]]:
        return [(i.status.value, i.reason) for i in await self.legs(signal, follower)]

    async def status(self, signal: Signal) -> SignalStatus:
        stored = await self.signals.get(signal.id)
        assert stored is not None
        return stored.status


@pytest.fixture
def world() -> World:
    return World()


def fee(quantity: str, price: Decimal = BTC_PRICE) -> Decimal:
    return D(quantity) * price * D("0.0004")


# --- live events to open pages -------------------------------------------------------------


async def test_each_settled_order_reaches_its_followers_page_and_progress_the_admins(
    world: World,
) -> None:
    alice = await world.follower("alice")
    bob = await world.follower("bob", equity=1)  # below the minimum notional: skipped
    signal = await world.signal(SignalAction.LONG)

    await world.run(signal)

    assert world.live.kinds_for(user_audience(alice.user.id)) == ["order.filled"]
    assert world.live.kinds_for(user_audience(bob.user.id)) == ["order.skipped"]
    [(_, skipped)] = [p for p in world.live.published if p[0] == user_audience(bob.user.id)]
    assert skipped.data["signal_id"] == signal.id
    assert skipped.data["reason"]
    progress = [e for to, e in world.live.published if to == ADMINS]
    assert {e.kind for e in progress} == {"signal.progress"}
    assert sum(int(e.data["settled"]) for e in progress) == 2


# --- sizing per follower ------------------------------------------------------------------


async def test_each_follower_is_sized_by_their_own_settings(world: World) -> None:
    alice = await world.follower("alice")
    bob = await world.follower("bob", risk_perc="2", leverage=10)
    carol = await world.follower("carol", caps=UserCaps(max_risk_perc=D("0.5")))
    dave = await world.follower("dave", equity=25000, leverage=50)
    signal = await world.signal(SignalAction.LONG)

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"filled": 4}, finished=True)
    # Defaults 1 % x 5: 10000 x 1 % x 5 = 500 / 65000 = 0.00769.. -> 0.007 BTC
    assert alice.exchange.placed == [alice.order(signal, OrderSide.BUY, "0.007")]
    # Own 2 % x 10: 2000 / 65000 = 0.03076.. -> 0.030 BTC
    assert bob.exchange.placed == [bob.order(signal, OrderSide.BUY, "0.030")]
    # Per-user cap 0.5 %: 10000 x 0.5 % x 5 = 250 / 65000 = 0.00384.. -> 0.003 BTC
    assert carol.exchange.placed == [carol.order(signal, OrderSide.BUY, "0.003")]
    # 50x is capped at the platform's 20x: 25000 x 1 % x 20 = 5000 / 65000 = 0.0769 -> 0.076
    assert dave.exchange.placed == [dave.order(signal, OrderSide.BUY, "0.076")]
    assert [f.exchange.leverage for f in (alice, bob, carol, dave)] == [
        {"BTCUSDT": 5},
        {"BTCUSDT": 10},
        {"BTCUSDT": 5},
        {"BTCUSDT": 20},
    ]
    assert alice.exchange.positions == {
        "BTCUSDT": Position("BTCUSDT", PositionSide.LONG, D("0.007"), BTC_PRICE, 5)
    }
    assert await world.status(signal) is SignalStatus.DONE


async def test_filled_intent_records_the_exchange_fill(world: World) -> None:
    alice = await world.follower("alice")
    signal = await world.signal(SignalAction.SHORT)
    world.clock.advance(timedelta(seconds=2))

    await world.run(signal)

    [intent] = await world.legs(signal, alice)
    assert (intent.leg, intent.side, intent.quantity) == (
        OrderLeg.ENTRY,
        OrderSide.SELL,
        D("0.007"),
    )
    assert intent.status is IntentStatus.FILLED
    assert intent.reason is None
    assert intent.client_order_id == alice.cid(signal)
    assert intent.exchange_order_id == "1001"
    assert intent.filled_quantity == D("0.007")
    assert intent.average_price == BTC_PRICE
    assert intent.fee == fee("0.007")  # 455 x 0.04 % = 0.182
    assert intent.fee == D("0.182")
    assert intent.attempts == 1
    assert intent.leverage == 5
    assert intent.reduce_only is False
    assert intent.user_id == alice.user.id
    assert intent.updated_at == START + timedelta(seconds=2)


async def test_signal_risk_applies_to_followers_without_their_own(world: World) -> None:
    alice = await world.follower("alice")
    bob = await world.follower("bob", risk_perc="2", leverage=10)
    signal = await world.signal(SignalAction.LONG, risk_perc="3", leverage=4)

    await world.run(signal)

    # Signal's 3 % x 4: 10000 x 3 % x 4 = 1200 / 65000 = 0.01846.. -> 0.018 BTC
    assert alice.exchange.placed == [alice.order(signal, OrderSide.BUY, "0.018")]
    assert alice.exchange.leverage == {"BTCUSDT": 4}
    # Bob's own settings win over the signal's: 0.030 BTC at 10x
    assert bob.exchange.placed == [bob.order(signal, OrderSide.BUY, "0.030")]
    assert bob.exchange.leverage == {"BTCUSDT": 10}


# --- skips ---------------------------------------------------------------------------------


async def test_skipped_followers_keep_the_reason(world: World) -> None:
    alice = await world.follower("alice")
    paused = await world.follower("paused", paused=True)
    disabled = await world.follower("disabled", enabled=False)
    poor = await world.follower("poor", equity=100)
    signal = await world.signal(SignalAction.LONG)

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"filled": 1, "skipped": 3}, finished=True)
    assert await world.outcome(signal, paused) == [
        ("skipped", "copying is paused for this follower")
    ]
    assert await world.outcome(signal, disabled) == [("skipped", "exchange connection is disabled")]
    # 100 x 1 % x 5 = 5 USDT / 65000 = 0.0000769 -> 0.000 BTC
    assert await world.outcome(signal, poor) == [
        ("skipped", "below minimum quantity: 0.000 < 0.001 BTCUSDT (margin 1.00 x leverage 5)")
    ]
    for follower in (paused, disabled, poor):
        assert follower.exchange.requests == []
    assert len(alice.exchange.placed) == 1
    assert await world.status(signal) is SignalStatus.DONE


async def test_below_min_notional_is_skipped(world: World) -> None:
    poor = await world.follower("poor", equity=50)
    signal = await world.signal(SignalAction.LONG, symbol="DOGEUSDT")

    await world.run(signal)

    # 50 x 1 % x 5 = 2.5 USDT / 0.12345 = 20.25 -> 20 DOGE = 2.469 USDT < 5
    assert await world.outcome(signal, poor) == [
        ("skipped", "below min notional: 2.4690 < 5 USDT (margin 0.50 x leverage 5)")
    ]
    assert poor.exchange.requests == []


async def test_small_coin_is_sized_in_whole_units(world: World) -> None:
    alice = await world.follower("alice", risk_perc="1", leverage=10, equity=1000)
    signal = await world.signal(SignalAction.LONG, symbol="DOGEUSDT")

    await world.run(signal)

    # 1000 x 1 % x 10 = 100 / 0.12345 = 810.04 -> 810 DOGE
    assert alice.exchange.placed == [alice.order(signal, OrderSide.BUY, "810")]


async def test_only_approved_accounts_of_active_users_take_part(world: World) -> None:
    await world.follower("pending", status=ConnectionStatus.PENDING)
    await world.follower("rejected", status=ConnectionStatus.REJECTED)
    inactive = await world.follower("inactive", active=False)
    alice = await world.follower("alice")
    signal = await world.signal(SignalAction.LONG)

    summary = await world.run(signal)

    assert summary.counts == {"filled": 1}
    assert {i.account_id for i in await world.intents.list_for_signal(signal.id)} == {
        alice.account.id
    }
    assert inactive.exchange.requests == []


async def test_unreadable_account_is_skipped_with_the_exchange_reason(world: World) -> None:
    down = await world.follower("down")
    down.exchange.read_error = ExchangeUnavailable("503 Service Unavailable")
    unknown = await world.follower("unknown", reachable=False)
    signal = await world.signal(SignalAction.LONG)

    await world.run(signal)

    assert await world.outcome(signal, down) == [
        ("skipped", "could not read the account: 503 Service Unavailable")
    ]
    assert await world.outcome(signal, unknown) == [
        (
            "skipped",
            f"could not read the account: no exchange connected for account {unknown.account.id}",
        )
    ]


async def test_expired_signal_is_skipped_without_orders(world: World) -> None:
    alice = await world.follower("alice")
    signal = await world.signal(SignalAction.LONG)
    world.clock.advance(POLICY.max_signal_age + timedelta(seconds=1))

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"skipped": 1}, finished=True)
    assert await world.outcome(signal, alice) == [("skipped", "signal expired: older than 0:05:00")]
    assert alice.exchange.requests == []
    assert await world.status(signal) is SignalStatus.DONE


async def test_signal_exactly_max_age_old_is_still_executed(world: World) -> None:
    alice = await world.follower("alice")
    signal = await world.signal(SignalAction.LONG)
    world.clock.advance(POLICY.max_signal_age)

    assert (await world.run(signal)).counts == {"filled": 1}
    assert len(alice.exchange.placed) == 1


# --- close and flip -------------------------------------------------------------------------


async def test_close_sends_reduce_only_orders_also_for_paused_followers(world: World) -> None:
    long_one = await world.follower("long")
    long_one.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.02"))
    short_one = await world.follower("short")
    short_one.exchange.set_position("BTCUSDT", PositionSide.SHORT, D("0.01"))
    paused = await world.follower("paused", paused=True)
    paused.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.005"))
    flat = await world.follower("flat")
    signal = await world.signal(SignalAction.CLOSE)

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"filled": 3, "skipped": 1}, finished=True)
    close = OrderLeg.CLOSE
    assert long_one.exchange.placed == [
        long_one.order(signal, OrderSide.SELL, "0.02", leg=close, reduce_only=True)
    ]
    assert short_one.exchange.placed == [
        short_one.order(signal, OrderSide.BUY, "0.01", leg=close, reduce_only=True)
    ]
    assert paused.exchange.placed == [
        paused.order(signal, OrderSide.SELL, "0.005", leg=close, reduce_only=True)
    ]
    assert await world.outcome(signal, flat) == [("skipped", "no open position to close")]
    for follower in (long_one, short_one, paused):
        assert follower.exchange.positions == {}
        assert follower.exchange.leverage == {}  # a close does not touch the leverage
    [intent] = await world.legs(signal, long_one)
    assert (intent.leg, intent.reduce_only, intent.leverage) == (OrderLeg.CLOSE, True, None)


async def test_flip_closes_the_short_then_opens_the_long(world: World) -> None:
    alice = await world.follower("alice")
    alice.exchange.set_position("BTCUSDT", PositionSide.SHORT, D("0.01"))
    signal = await world.signal(SignalAction.LONG)

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"filled": 2}, finished=True)
    assert alice.exchange.placed == [
        alice.order(signal, OrderSide.BUY, "0.01", leg=OrderLeg.CLOSE, reduce_only=True),
        alice.order(signal, OrderSide.BUY, "0.007"),
    ]
    assert alice.exchange.positions["BTCUSDT"].side is PositionSide.LONG
    assert alice.exchange.positions["BTCUSDT"].quantity == D("0.007")
    assert [(i.leg, i.status) for i in await world.legs(signal, alice)] == [
        (OrderLeg.CLOSE, IntentStatus.FILLED),
        (OrderLeg.ENTRY, IntentStatus.FILLED),
    ]


async def test_flip_whose_close_is_rejected_skips_the_entry(world: World) -> None:
    alice = await world.follower("alice")
    alice.exchange.set_position("BTCUSDT", PositionSide.SHORT, D("0.01"))
    alice.exchange.fail_next_place(ReduceOnlyRejected("ReduceOnly Order is rejected."))
    signal = await world.signal(SignalAction.LONG)

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"rejected": 1, "skipped": 1}, finished=True)
    assert await world.outcome(signal, alice) == [
        ("rejected", "ReduceOnly Order is rejected."),
        ("skipped", "the opposite position could not be closed first"),
    ]
    assert alice.exchange.requests == [
        alice.order(signal, OrderSide.BUY, "0.01", leg=OrderLeg.CLOSE, reduce_only=True)
    ]
    assert alice.exchange.placed == []
    assert alice.exchange.positions["BTCUSDT"].side is PositionSide.SHORT


async def test_flip_whose_close_is_unsettled_waits_then_completes(world: World) -> None:
    alice = await world.follower("alice")
    alice.exchange.set_position("BTCUSDT", PositionSide.SHORT, D("0.01"))
    alice.exchange.fail_next_place(OutcomeUnknown("timeout"))
    signal = await world.signal(SignalAction.LONG)

    first = await world.run(signal)

    # The unsettled close keeps its lease: nobody may resend it before the lease runs out.
    assert first == ExecutionSummary(signal.id, {"submitting": 1, "pending": 1}, finished=False)
    assert await world.outcome(signal, alice) == [
        ("submitting", "outcome unknown (timeout); looked up before any resend"),
        ("pending", "waiting for the close of the opposite position"),
    ]
    assert alice.exchange.placed == []

    world.clock.advance(PAST_THE_LEASE)
    second = await world.run(signal)

    assert second == ExecutionSummary(signal.id, {"filled": 2}, finished=True)
    assert alice.exchange.placed == [
        alice.order(signal, OrderSide.BUY, "0.01", leg=OrderLeg.CLOSE, reduce_only=True),
        alice.order(signal, OrderSide.BUY, "0.007"),
    ]


# --- a fan-out in parts ----------------------------------------------------------------------


async def test_each_part_places_the_orders_of_its_own_followers_only(world: World) -> None:
    # Of two parts, the first holds connection ids below "8000", the second the rest.
    alice = await world.follower("alice", account_id="1a2b-alice")
    bob = await world.follower("bob", account_id="9c8d-bob")
    carol = await world.follower("carol", account_id="f00d-carol")
    signal = await world.signal(SignalAction.LONG, fanout_parts=2)

    second = await world.run(signal, part=1)

    assert second == ExecutionSummary(signal.id, {"filled": 2}, finished=True)
    assert alice.exchange.requests == []
    assert len(bob.exchange.requests) == len(carol.exchange.requests) == 1
    assert await world.status(signal) is SignalStatus.PROCESSING  # the first part is not done

    first = await world.run(signal, part=0)

    assert first == ExecutionSummary(signal.id, {"filled": 1}, finished=True)
    assert alice.exchange.requests == [alice.order(signal, OrderSide.BUY, "0.007")]
    assert len(bob.exchange.requests) == len(carol.exchange.requests) == 1
    assert await world.status(signal) is SignalStatus.DONE
    report = await ReportSignals(world.signals, world.intents).report(signal.id, ADMIN)
    assert report.counts == {"filled": 3}


async def test_a_finished_part_is_not_run_again(world: World) -> None:
    alice = await world.follower("alice", account_id="1a2b-alice")
    signal = await world.signal(SignalAction.LONG, fanout_parts=2)
    await world.run(signal, part=0)
    late = await world.follower("late", account_id="2b3c-late")  # approved afterwards

    again = await world.run(signal, part=0)

    assert again == ExecutionSummary(signal.id, {}, finished=True)
    assert len(alice.exchange.requests) == 1
    assert late.exchange.requests == []
    assert await world.status(signal) is SignalStatus.PROCESSING


async def test_a_part_the_signal_does_not_have_runs_nothing(world: World) -> None:
    alice = await world.follower("alice", account_id="1a2b-alice")
    signal = await world.signal(SignalAction.LONG, fanout_parts=2)

    assert await world.run(signal, part=2) == ExecutionSummary(signal.id, {}, finished=True)
    assert alice.exchange.requests == []
    assert await world.status(signal) is SignalStatus.RECEIVED


# --- idempotence and unknown outcomes --------------------------------------------------------


async def test_rerunning_a_finished_signal_places_nothing_more(world: World) -> None:
    alice = await world.follower("alice")
    signal = await world.signal(SignalAction.LONG)
    await world.run(signal)
    alice.exchange.set_equity(D(50000))  # a re-plan would size differently

    again = await world.run(signal)
    # Even when the "done" marks were lost, the stored intents are final: nothing is resent.
    world.signals.lose_done_marks(signal.id)
    once_more = await world.run(signal)

    assert again == ExecutionSummary(signal.id, {}, finished=True)
    assert once_more == ExecutionSummary(signal.id, {"filled": 1}, finished=True)
    assert alice.exchange.requests == [alice.order(signal, OrderSide.BUY, "0.007")]
    assert len(await world.intents.list_for_signal(signal.id)) == 1
    assert await world.status(signal) is SignalStatus.DONE


async def test_crash_after_execution_is_recovered_by_lookup_not_resend(world: World) -> None:
    alice = await world.follower("alice")
    alice.exchange.execute_then_raise(WorkerCrashed("SIGKILL"))
    signal = await world.signal(SignalAction.LONG)

    with pytest.raises(WorkerCrashed):
        await world.run(signal)

    [intent] = await world.legs(signal, alice)
    assert (intent.status, intent.attempts) == (IntentStatus.SUBMITTING, 1)
    # The job runs again at once (the message was not acked): the lease still holds.
    assert await world.run(signal) == ExecutionSummary(signal.id, {"submitting": 1}, finished=False)
    assert len(alice.exchange.requests) == 1

    world.clock.advance(PAST_THE_LEASE)
    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"filled": 1}, finished=True)
    assert alice.exchange.requests == [alice.order(signal, OrderSide.BUY, "0.007")]
    assert alice.exchange.order_calls()[-1] == ("find", alice.cid(signal))
    [intent] = await world.legs(signal, alice)
    assert (intent.status, intent.attempts, intent.exchange_order_id) == (
        IntentStatus.FILLED,
        2,
        "1001",
    )
    assert intent.filled_quantity == D("0.007")


async def test_crash_before_sending_places_exactly_once_after_the_lease(world: World) -> None:
    alice = await world.follower("alice")
    alice.exchange.fail_next_place(WorkerCrashed("SIGKILL"))
    signal = await world.signal(SignalAction.LONG)
    with pytest.raises(WorkerCrashed):
        await world.run(signal)
    world.clock.advance(PAST_THE_LEASE)

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"filled": 1}, finished=True)
    cid = alice.cid(signal)
    assert alice.exchange.order_calls()[-2:] == [("find", cid), ("place", cid)]
    assert alice.exchange.placed == [alice.order(signal, OrderSide.BUY, "0.007")]


async def test_outcome_unknown_after_execution_is_found_and_recorded_as_filled(
    world: World,
) -> None:
    alice = await world.follower("alice")
    alice.exchange.execute_then_raise(OutcomeUnknown("Timeout waiting for response (-1007)"))
    signal = await world.signal(SignalAction.LONG)

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"filled": 1}, finished=True)
    cid = alice.cid(signal)
    assert alice.exchange.order_calls() == [
        ("place", cid),
        ("find", cid),
    ]
    assert alice.exchange.placed == [alice.order(signal, OrderSide.BUY, "0.007")]
    [intent] = await world.legs(signal, alice)
    assert intent.status is IntentStatus.FILLED
    assert (intent.exchange_order_id, intent.filled_quantity) == ("1001", D("0.007"))
    assert intent.reason is None
    assert await world.status(signal) is SignalStatus.DONE


async def test_outcome_unknown_before_execution_is_looked_up_then_placed_once(
    world: World,
) -> None:
    alice = await world.follower("alice")
    alice.exchange.fail_next_place(OutcomeUnknown("timeout"))
    signal = await world.signal(SignalAction.LONG)
    cid = alice.cid(signal)

    first = await world.run(signal)

    assert first == ExecutionSummary(signal.id, {"submitting": 1}, finished=False)
    assert await world.outcome(signal, alice) == [
        ("submitting", "outcome unknown (timeout); looked up before any resend")
    ]
    assert alice.exchange.placed == []
    assert await world.status(signal) is SignalStatus.PROCESSING

    world.clock.advance(PAST_THE_LEASE)
    alice.exchange.calls.clear()
    second = await world.run(signal)

    assert second == ExecutionSummary(signal.id, {"filled": 1}, finished=True)
    assert alice.exchange.order_calls() == [
        ("find", cid),
        ("place", cid),
    ]
    assert alice.exchange.placed == [alice.order(signal, OrderSide.BUY, "0.007")]
    [intent] = await world.legs(signal, alice)
    assert (intent.status, intent.attempts) == (IntentStatus.FILLED, 2)
    assert await world.status(signal) is SignalStatus.DONE


async def test_a_late_execution_after_an_empty_lookup_is_recorded_never_sent_twice(
    world: World,
) -> None:
    alice = await world.follower("alice")
    # -1007, then "order does not exist" at once: no proof; it executes a moment later.
    alice.exchange.execute_late(at_lookup=2)
    signal = await world.signal(SignalAction.LONG)

    first = await world.run(signal)

    assert first == ExecutionSummary(signal.id, {"submitting": 1}, finished=False)
    assert alice.exchange.placed == []
    world.clock.advance(PAST_THE_LEASE)
    second = await world.run(signal)

    assert second == ExecutionSummary(signal.id, {"filled": 1}, finished=True)
    cid = alice.cid(signal)
    assert alice.exchange.order_calls() == [("place", cid), ("find", cid), ("find", cid)]
    assert alice.exchange.placed == [alice.order(signal, OrderSide.BUY, "0.007")]


async def test_unsettled_order_of_an_expired_signal_is_looked_up_then_dropped(
    world: World,
) -> None:
    alice = await world.follower("alice")
    alice.exchange.fail_next_place(OutcomeUnknown("timeout"))
    signal = await world.signal(SignalAction.LONG)
    await world.run(signal)
    world.clock.advance(POLICY.max_signal_age + timedelta(seconds=1))
    alice.exchange.calls.clear()

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"skipped": 1}, finished=True)
    assert await world.outcome(signal, alice) == [
        ("skipped", "signal expired before the order could be sent (older than 0:05:00)")
    ]
    assert alice.exchange.order_calls() == [("find", alice.cid(signal))]
    assert alice.exchange.placed == []


async def test_connection_deleted_while_unsettled_is_skipped(world: World) -> None:
    alice = await world.follower("alice")
    alice.exchange.fail_next_place(OutcomeUnknown("timeout"))
    signal = await world.signal(SignalAction.LONG)
    await world.run(signal)
    await world.accounts.delete(alice.account.id)
    world.clock.advance(PAST_THE_LEASE)

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"skipped": 1}, finished=True)
    assert await world.outcome(signal, alice) == [("skipped", "exchange connection was deleted")]


async def test_definitive_rejection_keeps_the_exchange_reason(world: World) -> None:
    alice = await world.follower("alice")
    bob = await world.follower("bob")
    alice.exchange.fail_next_place(InsufficientMargin("Margin is insufficient."))
    signal = await world.signal(SignalAction.LONG)

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"rejected": 1, "filled": 1}, finished=True)
    assert await world.outcome(signal, alice) == [("rejected", "Margin is insufficient.")]
    assert alice.exchange.placed == []
    assert len(bob.exchange.placed) == 1
    assert await world.status(signal) is SignalStatus.DONE


async def test_rate_limit_leaves_the_intent_pending(world: World) -> None:
    alice = await world.follower("alice")
    alice.exchange.fail_next_place(RateLimited("Too many requests", retry_after_seconds=2))
    signal = await world.signal(SignalAction.LONG)

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"pending": 1}, finished=False)
    assert await world.outcome(signal, alice) == [("pending", "Too many requests")]
    assert await world.status(signal) is SignalStatus.PROCESSING


async def test_unknown_or_done_signal_is_a_no_op(world: World) -> None:
    assert await world.executor()("nope") == ExecutionSummary("nope", {}, finished=True)
    alice = await world.follower("alice")
    signal = await world.signal(SignalAction.LONG)
    await world.signals.set_status(signal.id, SignalStatus.DONE)

    assert await world.run(signal) == ExecutionSummary(signal.id, {}, finished=True)
    assert alice.exchange.requests == []


async def test_signal_without_followers_is_done(world: World) -> None:
    signal = await world.signal(SignalAction.LONG)
    assert await world.run(signal) == ExecutionSummary(signal.id, {}, finished=True)
    assert await world.status(signal) is SignalStatus.DONE


async def test_a_later_signal_waits_for_an_earlier_one_on_the_same_symbol(world: World) -> None:
    alice = await world.follower("alice")
    entry = await world.signal(SignalAction.LONG)
    world.clock.advance(timedelta(seconds=1))
    close = await world.signal(SignalAction.CLOSE)
    other_symbol = await world.signal(SignalAction.LONG, symbol="ETHUSDT")

    blocked = await world.run(close)

    assert blocked == ExecutionSummary(close.id, {}, finished=False)
    assert await world.intents.list_for_signal(close.id) == []
    assert await world.status(close) is SignalStatus.RECEIVED
    assert (await world.run(other_symbol)).counts == {"filled": 1}

    await world.run(entry)
    assert (await world.run(close)).counts == {"filled": 1}
    assert "BTCUSDT" not in alice.exchange.positions


async def test_a_planned_account_is_not_planned_again(world: World) -> None:
    alice = await world.follower("alice")
    alice.exchange.fail_next_place(OutcomeUnknown("timeout"))
    signal = await world.signal(SignalAction.LONG)
    await world.run(signal)
    # Meanwhile the account changed: a re-plan would size 0.038 and add a close leg.
    alice.exchange.set_equity(D(50000))
    alice.exchange.set_position("BTCUSDT", PositionSide.SHORT, D("0.5"))
    world.clock.advance(PAST_THE_LEASE)

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"filled": 1}, finished=True)
    assert alice.exchange.placed == [alice.order(signal, OrderSide.BUY, "0.007")]
    assert [i.leg for i in await world.legs(signal, alice)] == [OrderLeg.ENTRY]


async def test_follower_approved_later_is_planned_by_a_rerun(world: World) -> None:
    alice = await world.follower("alice")
    alice.exchange.fail_next_place(OutcomeUnknown("timeout"))
    bob = await world.follower("bob", status=ConnectionStatus.PENDING)
    signal = await world.signal(SignalAction.LONG)
    await world.run(signal)
    bob.account.status = ConnectionStatus.APPROVED
    await world.accounts.save(bob.account)
    world.clock.advance(PAST_THE_LEASE)

    summary = await world.run(signal)

    assert summary == ExecutionSummary(signal.id, {"filled": 2}, finished=True)
    assert len(alice.exchange.placed) == 1
    assert bob.exchange.placed == [bob.order(signal, OrderSide.BUY, "0.007")]


# --- copy fidelity --------------------------------------------------------------------------


async def test_the_signal_keeps_the_first_mark_read_and_each_fill_its_acknowledgement(
    world: World,
) -> None:
    alice = await world.follower("alice")
    signal = await world.signal(SignalAction.LONG)
    world.clock.advance(timedelta(milliseconds=250))

    await world.run(signal)

    stored = await world.signals.get(signal.id)
    assert stored is not None
    assert (stored.reference_price, stored.reference_at) == (BTC_PRICE, world.clock.now())
    [entry] = await world.legs(signal, alice)
    assert entry.status is IntentStatus.FILLED
    assert entry.acknowledged_at == world.clock.now()


async def test_a_later_part_leaves_the_reference_the_first_part_recorded(world: World) -> None:
    # Of two parts, the first holds connection ids below "8000", the second the rest.
    await world.follower("alice", account_id="1a2b-alice")
    await world.follower("bob", account_id="9c8d-bob")
    signal = await world.signal(SignalAction.LONG, fanout_parts=2)
    await world.run(signal, part=0)
    first_part = await world.signals.get(signal.id)
    assert first_part is not None
    assert first_part.reference_price == BTC_PRICE
    for follower_exchange in world.gateways.exchanges.values():
        follower_exchange.mark_prices = {**PRICES, "BTCUSDT": D(66000)}
    world.clock.advance(timedelta(seconds=1))

    assert await world.run(signal, part=1) == ExecutionSummary(signal.id, {"filled": 1}, True)

    stored = await world.signals.get(signal.id)
    assert stored is not None
    assert (stored.reference_price, stored.reference_at) == (
        BTC_PRICE,
        first_part.reference_at,
    )


async def test_a_close_takes_its_reference_from_the_price_feed(world: World) -> None:
    holder = await world.follower("holder")
    holder.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.01"))
    world.feed.prices["BTCUSDT"] = D(65100)
    signal = await world.signal(SignalAction.CLOSE)

    await world.run(signal)

    stored = await world.signals.get(signal.id)
    assert stored is not None
    assert stored.reference_price == D(65100)
    [close] = await world.legs(signal, holder)
    copied = copy_fidelity(close, stored.received_at, stored.reference_price)
    # sold at 65,000: (65,100 - 65,000) / 65,100 x 10,000 = 15.36 bps worse
    assert copied is not None
    assert copied.slippage_bps == D("15.36")


async def test_a_close_without_a_feed_price_has_no_reference(world: World) -> None:
    holder = await world.follower("holder")
    holder.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.01"))
    signal = await world.signal(SignalAction.CLOSE)

    summary = await world.run(signal)

    assert summary.counts == {"filled": 1}
    stored = await world.signals.get(signal.id)
    assert stored is not None
    assert stored.reference_price is None


async def fidelity_after_two_parts(world: World) -> tuple[Follower, Follower, Signal]:
    """alice's part fills at the reference 65,000 after 100 ms; bob's, run 400 ms after the
    receipt, fills at 66,000: 1,000 / 65,000 x 10,000 = 153.85 bps worse."""
    # Of two parts, the first holds connection ids below "8000", the second the rest.
    alice = await world.follower("alice", account_id="1a2b-alice")
    bob = await world.follower("bob", account_id="9c8d-bob")
    signal = await world.signal(SignalAction.LONG, fanout_parts=2)
    world.clock.advance(timedelta(milliseconds=100))
    await world.run(signal, part=0)
    bob.exchange.mark_prices = {**PRICES, "BTCUSDT": D(66000)}
    world.clock.advance(timedelta(milliseconds=300))
    await world.run(signal, part=1)
    return alice, bob, signal


async def test_a_follower_sees_the_latency_and_slippage_of_their_own_accounts_only(
    world: World,
) -> None:
    alice, bob, signal = await fidelity_after_two_parts(world)
    reports = ReportSignals(world.signals, world.intents)

    own = await reports.report(signal.id, bob.user)

    [account] = own.accounts
    assert account.account_id == bob.account.id
    [copied] = account.copies
    assert (copied.reference_price, copied.fill_price) == (BTC_PRICE, D(66000))
    assert (copied.latency_ms, copied.slippage_bps) == (400, D("153.85"))
    every = await reports.report(signal.id, ADMIN)
    assert {a.account_id for a in every.accounts} == {alice.account.id, bob.account.id}
    outsider = await world.follower("outsider", reachable=False)
    with pytest.raises(NotFound):
        await reports.report(signal.id, outsider.user)


async def test_a_periods_fidelity_shows_a_follower_their_own_and_the_platforms_figures(
    world: World,
) -> None:
    alice, bob, _ = await fidelity_after_two_parts(world)
    await world.follower("paused", paused=True)
    await world.run(await world.signal(SignalAction.SHORT, symbol="ETHUSDT"))
    view = ViewCopyFidelity(
        InMemoryFidelityReader(world.signals, world.intents, world.users),
        world.sources,
        world.clock,
        RecentFidelity(),
    )

    for_bob = await view(bob.user, "7d")

    assert [f.username for f in for_bob.followers] == ["bob"]
    [bobs] = for_bob.followers
    # his BTC long (400 ms, 153.85 bps) and his ETH short, filled at the reference at once
    assert (bobs.summary.copies, bobs.summary.latency_p99_ms) == (2, 400)
    # (153.85 + 0) / 2 = 76.925, rounded half away from zero
    assert bobs.summary.slippage_mean_bps == D("76.93")
    assert for_bob.platform.copies == 4
    assert for_bob.platform.missed == 1
    assert [(m.reason, m.count) for m in for_bob.platform.missed_reasons] == [
        ("copying is paused for this follower", 1)
    ]
    for_admin = await view(ADMIN, "30d")
    assert [f.username for f in for_admin.followers] == ["alice", "bob", "paused"]
    assert for_admin.followers[0].summary.slippage_p95_bps == D("0.00")
    assert alice.user.id == for_admin.followers[0].user_id


async def test_a_periods_figures_are_summed_up_once_a_minute(world: World) -> None:
    alice = await world.follower("alice")
    view = ViewCopyFidelity(
        InMemoryFidelityReader(world.signals, world.intents, world.users),
        world.sources,
        world.clock,
        RecentFidelity(timedelta(minutes=1)),
    )
    await world.run(await world.signal(SignalAction.LONG))
    first = await view(alice.user, "7d")
    await world.run(await world.signal(SignalAction.CLOSE))
    world.clock.advance(timedelta(seconds=59))

    within_the_minute = await view(alice.user, "7d")
    world.clock.advance(timedelta(seconds=1))
    after_it = await view(alice.user, "7d")

    assert first.platform.copies == within_the_minute.platform.copies == 1
    assert within_the_minute.since == first.since
    assert after_it.platform.copies == 2
    assert (await view(alice.user, "30d")).platform.copies == 2  # each period on its own


async def test_a_periods_fidelity_takes_7d_or_30d_and_a_known_source(world: World) -> None:
    view = ViewCopyFidelity(
        InMemoryFidelityReader(world.signals, world.intents, world.users),
        world.sources,
        world.clock,
        RecentFidelity(),
    )

    with pytest.raises(InvalidField, match="period"):
        await view(ADMIN, "1y")
    with pytest.raises(InvalidField, match="source"):
        await view(ADMIN, "7d", "no-such-source")


# --- reports --------------------------------------------------------------------------------


def leg(
    status: IntentStatus, reason: str | None = None, kind: OrderLeg = OrderLeg.ENTRY
) -> OrderIntent:
    return OrderIntent(
        id=f"{kind}-{status}",
        signal_id="s",
        account_id="a",
        user_id="u",
        leg=kind,
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        quantity=D("0.01"),
        reduce_only=kind is OrderLeg.CLOSE,
        leverage=None,
        client_order_id="c",
        created_at=START,
        status=status,
        reason=reason,
    )


@pytest.mark.parametrize(
    ("legs", "expected"),
    [
        ([leg(IntentStatus.FILLED)], ("filled", None)),
        (
            [leg(IntentStatus.FILLED, kind=OrderLeg.CLOSE), leg(IntentStatus.FILLED)],
            ("filled", None),
        ),
        ([leg(IntentStatus.SKIPPED, "paused")], ("skipped", "paused")),
        (
            [leg(IntentStatus.FILLED, kind=OrderLeg.CLOSE), leg(IntentStatus.SKIPPED, "tiny")],
            ("skipped", "tiny"),
        ),
        (
            [leg(IntentStatus.REJECTED, "margin", OrderLeg.CLOSE), leg(IntentStatus.SKIPPED, "x")],
            ("rejected", "margin"),
        ),
        (
            [leg(IntentStatus.SKIPPED, "x", OrderLeg.CLOSE), leg(IntentStatus.REJECTED, "margin")],
            ("rejected", "margin"),
        ),
        (
            [leg(IntentStatus.FILLED, kind=OrderLeg.CLOSE), leg(IntentStatus.PENDING, "waiting")],
            ("pending", "waiting"),
        ),
        (
            [leg(IntentStatus.REJECTED, "no"), leg(IntentStatus.SUBMITTING, kind=OrderLeg.CLOSE)],
            ("pending", None),
        ),
    ],
)
def test_account_outcome(legs: list[OrderIntent], expected: tuple[str, str | None]) -> None:
    assert account_outcome(legs) == expected


async def test_report_tells_per_account_what_happened(world: World) -> None:
    alice = await world.follower("alice")
    paused = await world.follower("paused", paused=True)
    flipper = await world.follower("flipper")
    flipper.exchange.set_position("BTCUSDT", PositionSide.SHORT, D("0.01"))
    flipper.exchange.fail_next_place(ReduceOnlyRejected("ReduceOnly Order is rejected."))
    signal = await world.signal(SignalAction.LONG)
    await world.run(signal)

    report = await ReportSignals(world.signals, world.intents).report(signal.id, ADMIN)

    assert report.signal.id == signal.id
    assert report.signal.status is SignalStatus.DONE
    assert report.counts == {"filled": 1, "skipped": 1, "rejected": 1}
    by_account = {a.account_id: a for a in report.accounts}
    assert (by_account[alice.account.id].status, by_account[alice.account.id].reason) == (
        "filled",
        None,
    )
    assert by_account[alice.account.id].user_id == alice.user.id
    assert [o.quantity for o in by_account[alice.account.id].orders] == [D("0.007")]
    assert (by_account[paused.account.id].status, by_account[paused.account.id].reason) == (
        "skipped",
        "copying is paused for this follower",
    )
    assert (by_account[flipper.account.id].status, by_account[flipper.account.id].reason) == (
        "rejected",
        "ReduceOnly Order is rejected.",
    )
    assert len(by_account[flipper.account.id].orders) == 2


async def test_report_of_unknown_signal_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await ReportSignals(world.signals, world.intents).report("missing", ADMIN)


async def test_list_recent_is_newest_first(world: World) -> None:
    first = await world.signal(SignalAction.LONG)
    world.clock.advance(timedelta(seconds=1))
    second = await world.signal(SignalAction.CLOSE)
    reports = ReportSignals(world.signals, world.intents)

    assert [s.id for s in await reports.list_recent()] == [second.id, first.id]
    assert [s.id for s in await reports.list_recent(limit=1)] == [second.id]


# --- sweeper --------------------------------------------------------------------------------


async def test_sweeper_requeues_unfinished_signals_older_than_the_grace(world: World) -> None:
    received = await world.signal(SignalAction.LONG)
    processing = await world.signal(SignalAction.LONG, symbol="ETHUSDT")
    await world.signals.set_status(processing.id, SignalStatus.PROCESSING)
    done = await world.signal(SignalAction.LONG, symbol="DOGEUSDT")
    await world.signals.set_status(done.id, SignalStatus.DONE)
    world.clock.advance(timedelta(seconds=50))
    recent = await world.signal(SignalAction.CLOSE)
    world.clock.advance(timedelta(seconds=10))
    queue = RecordingSignalQueue()
    sweep = SweepUnfinishedSignals(
        world.signals, world.intents, queue, world.clock, grace=timedelta(seconds=30)
    )

    result = await sweep()

    assert result.requeued == [received.id, processing.id]
    assert queue.enqueued == [received.id, processing.id]
    assert recent.id not in queue.enqueued


async def test_sweeper_requeues_only_the_parts_that_did_not_finish(world: World) -> None:
    signal = await world.signal(SignalAction.LONG, fanout_parts=3)
    await world.signals.finish_part(signal.id, FanoutPart(1, 3))
    world.clock.advance(timedelta(seconds=60))
    queue = RecordingSignalQueue()
    sweep = SweepUnfinishedSignals(
        world.signals, world.intents, queue, world.clock, grace=timedelta(seconds=30)
    )

    assert (await sweep()).requeued == [signal.id]
    assert queue.parts == [(signal.id, 0), (signal.id, 2)]


async def test_sweeper_with_nothing_to_do(world: World) -> None:
    queue = RecordingSignalQueue()
    sweep = SweepUnfinishedSignals(
        world.signals, world.intents, queue, world.clock, grace=timedelta(seconds=30)
    )
    assert (await sweep()).requeued == []
    assert queue.enqueued == []


def test_fixed_clock_is_utc_and_advances() -> None:
    clock = FixedClock()
    assert clock.now() == START
    assert clock.now().utcoffset() == timedelta(0)
    assert clock.advance(timedelta(minutes=1)) == START + timedelta(minutes=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2024, 1, 1))


async def rate_limited_at_first(world: World, *names: str) -> tuple[list[Follower], Signal]:
    """Followers whose first order of a new signal was rate limited: a run left them pending."""
    followers = [await world.follower(name) for name in names]
    for f in followers:
        f.exchange.fail_next_place(RateLimited("Too many requests", retry_after_seconds=1))
    signal = await world.signal(SignalAction.LONG)
    pending = ExecutionSummary(signal.id, {"pending": len(names)}, finished=False)
    assert await world.run(signal) == pending
    return followers, signal


async def test_an_unsettled_order_does_not_hold_back_the_other_followers(world: World) -> None:
    # All three are rate limited at first, so the second run claims them one batch at a time.
    followers, signal = await rate_limited_at_first(world, "alice", "bob", "carol")

    # Alice's next order times out; Bob's and Carol's batches are still sent in this run.
    followers[0].exchange.fail_next_place(OutcomeUnknown("timeout"))
    second = await world.run(signal, ExecutionPolicy(claim_batch=1))

    assert second == ExecutionSummary(signal.id, {"submitting": 1, "filled": 2}, finished=False)
    assert [len(f.exchange.placed) for f in followers] == [0, 1, 1]


class RunsBeatenToTheInsert(InMemoryOrderIntentRepository):
    """Another worker's run of the same part stores the intents first, while this run
    plans: every insert of this run then finds its (signal, account, leg) taken."""

    def __init__(self, world: World, *, stored_first: int = 0) -> None:
        super().__init__()
        self._world = world
        self._stored_first = stored_first  # inserts of this run that go through before
        self.beaten = 0

    async def add_new(
        self, intents: Sequence[OrderIntent], *, lease_until: datetime | None = None
    ) -> set[str]:
        if intents and self._stored_first:
            self._stored_first -= 1
        elif intents and not self.beaten:
            self.beaten += 1
            theirs = [dataclasses.replace(i, id=f"other-{i.id}") for i in intents]
            for intent in theirs:
                intent.hold_for_sending(self._world.clock.now())
            await super().add_new(theirs, lease_until=lease_until)
        return await super().add_new(intents, lease_until=lease_until)


async def test_a_run_that_stored_nothing_does_not_finish_the_other_runs_orders(
    world: World,
) -> None:
    await world.follower("alice")
    signal = await world.signal(SignalAction.LONG)
    world.intents = RunsBeatenToTheInsert(world)

    summary = await world.run(signal)

    # The other run holds the order, still in flight: this part is not finished by this one.
    assert summary.finished is False
    assert summary.counts == {"submitting": 1}
    stored = await world.signals.get(signal.id)
    assert stored is not None
    assert stored.status is not SignalStatus.DONE
    assert not stored.finished_parts


async def test_a_run_beaten_to_a_later_batch_does_not_finish_the_other_runs_orders(
    world: World,
) -> None:
    for name in ("alice", "bob"):
        await world.follower(name)
    signal = await world.signal(SignalAction.LONG)
    world.intents = RunsBeatenToTheInsert(world, stored_first=1)

    # Alice's batch is this run's and fills; Bob's is stored first by another run.
    summary = await world.run(signal, ExecutionPolicy(first_batch=1, claim_batch=1))

    # Every intent this run holds is final, but Bob's order is still in flight elsewhere.
    assert summary.finished is False
    stored = await world.signals.get(signal.id)
    assert stored is not None
    assert stored.status is not SignalStatus.DONE
    assert not stored.finished_parts


async def test_followers_are_read_a_page_at_a_time_and_each_planned_once(world: World) -> None:
    # Rate limited at first: the second run finds their intents pending.
    first, signal = await rate_limited_at_first(world, "alice", "bob", "carol")
    later = [await world.follower(name) for name in ("dave", "erin")]
    reads = RecordingPages(world.accounts)
    world.accounts.list_copy_candidates = reads  # type: ignore[method-assign]

    # Pages of one, then two: the first pages hold only followers planned already.
    second = await world.run(signal, ExecutionPolicy(first_batch=1, claim_batch=2))

    assert second == ExecutionSummary(signal.id, {"filled": 5}, finished=True)
    assert [len(f.exchange.placed) for f in [*first, *later]] == [1, 1, 1, 1, 1]
    # Alice's, Bob's and Carol's pages are passed over; Erin's is short: nothing is left.
    assert reads.limits == [1, 1, 1, 1, 2]
    assert len(world.intents.all()) == 5


class RecordingPages:
    def __init__(self, accounts: InMemoryExchangeAccountRepository) -> None:
        self._list = accounts.list_copy_candidates
        self.limits: list[int | None] = []

    async def __call__(self, **options: Any) -> list[tuple[ExchangeAccount, User]]:
        self.limits.append(options.get("limit"))
        return await self._list(**options)
