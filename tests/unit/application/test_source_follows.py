"""Followers choose sources: who is a candidate for a signal, and how each is sized."""

from decimal import Decimal

import pytest

from mimic.application.audit_trail import RequestContext
from mimic.application.source_follows import FollowSources
from mimic.domain.accounts import SignalSource, TradeDirection
from mimic.domain.errors import InvalidField
from mimic.domain.follows import SourceFollow
from mimic.domain.orders import IntentStatus, OrderLeg, OrderSide
from mimic.domain.positions import PositionSide
from mimic.domain.risk import UserCaps
from mimic.domain.signal import SignalAction
from tests.fakes.repositories.audit import InMemoryAuditLog
from tests.fakes.repositories.signals import InMemorySignalSourceRepository
from tests.fakes.repositories.transactions import FakeTransactionManager
from tests.unit.application.test_execute_signal import World

D = Decimal
LONG_ONLY, SHORT_ONLY = TradeDirection.LONG_ONLY, TradeDirection.SHORT_ONLY


@pytest.fixture
def world() -> World:
    return World()


async def follow(world: World, user_id: str, *follows: SourceFollow) -> None:
    await world.follows.replace_for_user(user_id, follows)


async def test_only_followers_of_the_source_and_those_who_chose_nothing_are_planned(
    world: World,
) -> None:
    only_a = await world.follower("only_a")
    only_b = await world.follower("only_b")
    everyone = await world.follower("everyone")
    await follow(world, only_a.user.id, SourceFollow("A"))
    await follow(world, only_b.user.id, SourceFollow("B"))
    on_a = await world.signal(source_id="A")

    await world.run(on_a)

    assert [o.client_order_id for o in only_a.exchange.placed] == [only_a.cid(on_a)]
    assert [o.client_order_id for o in everyone.exchange.placed] == [everyone.cid(on_a)]
    assert only_b.exchange.placed == []
    assert await world.legs(on_a, only_b) == []  # not skipped: never a candidate

    on_b = await world.signal(SignalAction.CLOSE, source_id="B")
    await world.run(on_b)

    assert await world.legs(on_b, only_a) == []
    assert [i.status for i in await world.legs(on_b, everyone)] == [IntentStatus.FILLED]
    assert [i.reason for i in await world.legs(on_b, only_b)] == ["no open position to close"]


async def test_a_follow_s_allocation_overrides_the_follower_s_own_settings(world: World) -> None:
    alice = await world.follower("alice", risk_perc="2", leverage=10)
    await follow(
        world, alice.user.id, SourceFollow("A", risk_perc=D(3), leverage=4), SourceFollow("B")
    )
    on_a = await world.signal(source_id="A")

    await world.run(on_a)

    # 10000 x 3 % x 4 = 1200 / 65000 = 0.01846.. -> 0.018 BTC, at 4x
    assert alice.exchange.placed == [alice.order(on_a, OrderSide.BUY, "0.018")]
    assert alice.exchange.leverage == {"BTCUSDT": 4}

    on_b = await world.signal(SignalAction.SHORT, "ETHUSDT", source_id="B")
    await world.run(on_b)

    # The follow of B sets nothing: the follower's own 2 % x 10 = 2000 / 3500 = 0.571 ETH
    assert alice.exchange.placed[-1] == alice.order(on_b, OrderSide.SELL, "0.571")
    assert alice.exchange.leverage["ETHUSDT"] == 10


async def test_the_caps_still_apply_over_a_follow_s_allocation(world: World) -> None:
    capped = await world.follower("capped", caps=UserCaps(max_risk_perc=D("0.5"), max_leverage=3))
    await follow(world, capped.user.id, SourceFollow("A", risk_perc=D(8), leverage=20))
    signal = await world.signal(source_id="A")

    await world.run(signal)

    # Capped at 0.5 % x 3: 10000 x 0.5 % x 3 = 150 / 65000 = 0.0023 -> 0.002 BTC
    assert capped.exchange.placed == [capped.order(signal, OrderSide.BUY, "0.002")]
    assert capped.exchange.leverage == {"BTCUSDT": 3}


async def test_a_one_sided_follow_turns_the_other_side_into_a_close(world: World) -> None:
    long_only = await world.follower("long_only")
    both = await world.follower("both")
    short_only = await world.follower("short_only")
    await follow(world, long_only.user.id, SourceFollow("B", direction=LONG_ONLY))
    await follow(world, short_only.user.id, SourceFollow("B", direction=SHORT_ONLY))
    for f in (long_only, both):
        f.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.01"), entry_price=D(60000))
    short = await world.signal(SignalAction.SHORT, source_id="B")

    await world.run(short)

    assert long_only.exchange.placed == [
        long_only.order(short, OrderSide.SELL, "0.01", leg=OrderLeg.CLOSE, reduce_only=True)
    ]
    assert long_only.exchange.positions == {}
    assert both.exchange.placed == [  # a reversal for who follows both sides
        both.order(short, OrderSide.SELL, "0.01", leg=OrderLeg.CLOSE, reduce_only=True),
        both.order(short, OrderSide.SELL, "0.007"),
    ]
    assert short_only.exchange.placed == [short_only.order(short, OrderSide.SELL, "0.007")]

    long = await world.signal(SignalAction.LONG, source_id="B")
    await world.run(long)

    assert await world.outcome(long, short_only) == [("filled", None)]
    assert short_only.exchange.placed[-1] == short_only.order(
        long, OrderSide.BUY, "0.007", leg=OrderLeg.CLOSE, reduce_only=True
    )
    assert [o.side for o in long_only.exchange.placed[1:]] == [OrderSide.BUY]


async def test_while_copying_is_paused_a_one_sided_follow_s_close_still_goes_through(
    world: World,
) -> None:
    long_only = await world.follower("long_only")
    both = await world.follower("both")
    await follow(world, long_only.user.id, SourceFollow("B", direction=LONG_ONLY))
    for f in (long_only, both):
        f.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.01"), entry_price=D(60000))
    await world.settings.set_copying_paused(True)
    short = await world.signal(SignalAction.SHORT, source_id="B")

    await world.run(short)

    assert long_only.exchange.placed == [
        long_only.order(short, OrderSide.SELL, "0.01", leg=OrderLeg.CLOSE, reduce_only=True)
    ]
    assert both.exchange.placed == []  # an entry side: skipped while paused
    assert [reason for _, reason in await world.outcome(short, both)] == [
        "copying is paused for everyone by an admin"
    ]


# --- choosing ---------------------------------------------------------------------------------


ALICE = RequestContext(actor_id="alice-id", ip="192.0.2.7")


async def choosing(world: World, *sources: SignalSource) -> FollowSources:
    repository = InMemorySignalSourceRepository()
    for source in sources:
        await repository.add(source)
    return FollowSources(
        world.follows,
        repository,
        world.users,
        world.settings,
        InMemoryAuditLog(),
        FakeTransactionManager(),
        world.clock,
    )


def source(source_id: str, *, active: bool = True) -> SignalSource:
    return SignalSource(source_id, f"Master {source_id}", f"hash-{source_id}", active=active)


async def test_a_follower_replaces_the_whole_list_and_an_empty_one_follows_all_again(
    world: World,
) -> None:
    alice = await world.follower("alice")
    choose = await choosing(world, source("A"), source("B"), source("P", active=False))
    assert [s.id for s in await choose.followable()] == ["A", "B"]

    chosen = await choose(
        alice.user.id,
        [SourceFollow("A", risk_perc=D(2)), SourceFollow("P", direction=LONG_ONLY)],
        ALICE,
    )

    assert chosen == [SourceFollow("A", risk_perc=D(2)), SourceFollow("P", direction=LONG_ONLY)]
    assert (await world.follows.choices_for("B")).allocation(alice.user.id) is None
    assert await choose(alice.user.id, [SourceFollow("B")], ALICE) == [SourceFollow("B")]
    assert await choose(alice.user.id, [], ALICE) == []
    assert (await world.follows.choices_for("A")).allocation(alice.user.id) == SourceFollow("A")


@pytest.mark.parametrize(
    ("follows", "field"),
    [
        ([SourceFollow("nope")], "source_id"),
        ([SourceFollow("A"), SourceFollow("A", leverage=2)], "source_id"),
        ([SourceFollow("A", risk_perc=D(5))], "risk_perc"),  # the user's cap is 4 %
        ([SourceFollow("A", leverage=21)], "leverage"),  # the admin's cap is 20x
        ([SourceFollow("A", risk_perc=D(0))], "risk_perc"),
    ],
)
async def test_a_bad_list_is_refused_and_changes_nothing(
    world: World, follows: list[SourceFollow], field: str
) -> None:
    alice = await world.follower("alice", caps=UserCaps(max_risk_perc=D(4)))
    choose = await choosing(world, source("A"))
    await choose(alice.user.id, [SourceFollow("A", leverage=3)], ALICE)

    with pytest.raises(InvalidField) as refused:
        await choose(alice.user.id, follows, ALICE)

    assert refused.value.field == field
    assert await choose.chosen(alice.user.id) == [SourceFollow("A", leverage=3)]
