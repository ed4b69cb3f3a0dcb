"""The panic switch: its one-time password rules and what a pull does to every account."""

from datetime import timedelta
from decimal import Decimal as D

import pytest

from mimic.application.panic import (
    CheckPanicOtp,
    PanicOtpSetup,
    PanicPolicy,
    PauseCopying,
    PullPanic,
    ResumeCopying,
    SetUpPanicOtp,
)
from mimic.application.signal_planning import COPYING_PAUSED_REASON
from mimic.domain.accounts import ConnectionStatus, Role, User
from mimic.domain.errors import (
    Conflict,
    ExchangeUnavailable,
    OutcomeUnknown,
    PermissionDenied,
    RateLimited,
)
from mimic.domain.orders import IntentStatus, OrderLeg, client_order_id
from mimic.domain.panic import (
    LOCKOUT,
    MAX_FAILED_OTPS,
    OtpVerdict,
    PanicGuardState,
    panic_key,
)
from mimic.domain.positions import PositionSide
from mimic.domain.signal import SignalAction
from tests.fakes.panic import FixedOtp, InMemoryPanicCloses, InMemoryPanicGuard, InMemoryPanicRuns
from tests.fakes.repositories.audit import InMemoryAuditLog
from tests.fakes.services import START
from tests.unit.application.test_execute_signal import PAST_THE_LEASE, Follower, World


def test_a_code_is_accepted_once() -> None:
    state = PanicGuardState()
    assert state.judge(100, START) is OtpVerdict.ACCEPTED
    assert state.judge(100, START) is OtpVerdict.REPLAYED
    assert state.judge(99, START) is OtpVerdict.REPLAYED  # an older step neither
    assert state.judge(101, START) is OtpVerdict.ACCEPTED


def test_repeated_wrong_codes_lock_the_switch_for_a_while() -> None:
    state = PanicGuardState()
    for _ in range(MAX_FAILED_OTPS - 1):
        assert state.judge(None, START) is OtpVerdict.WRONG
    assert state.locked_until is None
    assert state.judge(None, START) is OtpVerdict.WRONG
    assert state.locked_until == START + LOCKOUT
    # Locked: even a right code is refused until the lockout ends.
    assert state.judge(200, START + LOCKOUT - timedelta(seconds=1)) is OtpVerdict.LOCKED
    assert state.judge(200, START + LOCKOUT) is OtpVerdict.ACCEPTED
    assert state.failures == 0


def test_an_accepted_code_resets_the_failures() -> None:
    state = PanicGuardState()
    state.judge(None, START)
    state.judge(None, START)
    state.judge(5, START)
    assert state.failures == 0
    for _ in range(MAX_FAILED_OTPS - 1):
        state.judge(None, START)
    assert state.locked_until is None


class Panic:
    def __init__(self, world: World) -> None:
        self.world = world
        self.otp = FixedOtp(step=100)
        self.guard = InMemoryPanicGuard()
        self.audit = InMemoryAuditLog()
        self.runs = InMemoryPanicRuns()
        self.closes = InMemoryPanicCloses()

    def check(self) -> CheckPanicOtp:
        w = self.world
        return CheckPanicOtp(self.guard, self.otp, self.audit, w.tx, w.clock)

    def pull(self) -> PullPanic:
        w = self.world
        return PullPanic(
            self.check(),
            self.runs,
            self.closes,
            w.accounts,
            w.users,
            w.gateways,
            w.settings,
            w.outbox,
            w.tx,
            w.clock,
            PanicPolicy(settle_lookups=2),
        )


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def panic(world: World) -> Panic:
    return Panic(world)


async def admin_of(world: World) -> User:
    admin = await world.follower("admin")
    admin.user.role = Role.ADMIN
    await world.users.save(admin.user)
    return admin.user


async def test_pull_closes_every_position_cancels_protection_and_pauses(
    world: World, panic: Panic
) -> None:
    admin = await admin_of(world)
    alice = await world.follower("alice")
    bob = await world.follower("bob")
    down = await world.follower("down")
    await world.follower("pending", status=ConnectionStatus.PENDING)
    alice.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.5"))
    alice.exchange.set_position("ETHUSDT", PositionSide.SHORT, D("2"))
    bob.exchange.set_position("BTCUSDT", PositionSide.SHORT, D("0.1"))
    bob.exchange.protective["BTCUSDT"] = [("sl", D(70000))]
    down.exchange.read_error = ExchangeUnavailable("maintenance")

    run = await panic.pull()(admin, "100", ip="10.0.0.1", via="http")

    assert alice.exchange.positions == {}
    assert bob.exchange.positions == {}
    outcomes = {o.account_id: o for o in run.accounts}
    assert sorted(outcomes[alice.account.id].closed) == ["BTCUSDT", "ETHUSDT"]
    assert outcomes[bob.account.id].closed == ["BTCUSDT"]
    assert outcomes[down.account.id].error == "maintenance"
    assert len(outcomes) == 4  # every approved connection, the admin's own included
    placed = alice.exchange.placed + bob.exchange.placed
    assert all(order.reduce_only for order in placed)
    expected = client_order_id(panic_key(run.id, "BTCUSDT"), bob.account.id, OrderLeg.CLOSE)
    assert [o.client_order_id for o in bob.exchange.placed] == [expected]
    assert "BTCUSDT" not in bob.exchange.protective  # its stop-loss was cancelled
    assert ("cancel_protective", "BTCUSDT") in bob.exchange.calls
    assert await world.settings.copying_paused() is True
    stored = await panic.closes.list_for_user(alice.user.id, limit=10)
    assert {c.status for c in stored} == {IntentStatus.FILLED}
    told = {n.user_id for n in world.outbox.rows.values() if n.event == "panic.executed"}
    assert told == {alice.user.id, bob.user.id, down.user.id, admin.id}
    assert [e.action for e in await panic.audit.list()] == ["panic.accepted"]


async def test_wrong_replayed_and_non_admin_attempts_change_nothing(
    world: World, panic: Panic
) -> None:
    admin = await admin_of(world)
    alice = await world.follower("alice")
    alice.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.5"))

    with pytest.raises(PermissionDenied):
        await panic.pull()(alice.user, "100", ip=None, via="http")
    with pytest.raises(PermissionDenied, match="wrong or already used"):
        await panic.pull()(admin, "123", ip=None, via="http")
    assert alice.exchange.positions
    assert await world.settings.copying_paused() is False

    await panic.pull()(admin, "100", ip=None, via="telegram")
    alice.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.5"))
    with pytest.raises(PermissionDenied, match="already used"):
        await panic.pull()(admin, "100", ip=None, via="http")
    with pytest.raises(PermissionDenied):
        await panic.pull()(admin, "99", ip=None, via="http")
    assert alice.exchange.positions  # the replays closed nothing
    actions = sorted(e.action for e in await panic.audit.list())
    assert actions == ["panic.accepted"] + ["panic.denied"] * 4


async def test_lockout_refuses_even_the_right_code(world: World, panic: Panic) -> None:
    admin = await admin_of(world)
    for _ in range(MAX_FAILED_OTPS):
        with pytest.raises(PermissionDenied):
            await panic.pull()(admin, "1", ip=None, via="http")
    with pytest.raises(PermissionDenied, match="locked"):
        await panic.pull()(admin, "100", ip=None, via="http")
    world.clock.advance(LOCKOUT)
    await panic.pull()(admin, "100", ip=None, via="http")


async def test_an_unknown_outcome_is_looked_up_by_client_id(world: World, panic: Panic) -> None:
    admin = await admin_of(world)
    alice = await world.follower("alice")
    alice.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.5"))
    alice.exchange.execute_then_raise()  # fills, then the answer is lost

    run = await panic.pull()(admin, "100", ip=None, via="http")

    assert alice.exchange.positions == {}
    assert [o.closed for o in run.accounts if o.account_id == alice.account.id] == [["BTCUSDT"]]
    assert [c[0] for c in alice.exchange.order_calls()] == ["place", "find"]
    assert len(alice.exchange.placed) == 1  # never sent twice


async def test_copying_paused_skips_entries_and_lets_closes_through(world: World) -> None:
    alice = await world.follower("alice")
    alice.exchange.set_position("ETHUSDT", PositionSide.LONG, D("1"))
    await world.settings.set_copying_paused(True)

    entry = await world.signal(SignalAction.LONG)
    await world.run(entry)
    close = await world.signal(SignalAction.CLOSE, symbol="ETHUSDT")
    await world.run(close)

    [skipped] = await world.legs(entry, alice)
    assert skipped.status is IntentStatus.SKIPPED
    assert skipped.reason == COPYING_PAUSED_REASON
    [closed] = await world.legs(close, alice)
    assert closed.status is IntentStatus.FILLED
    assert alice.exchange.positions == {}


async def test_an_admin_pauses_copying_without_the_panic_switch(world: World, panic: Panic) -> None:
    admin = await admin_of(world)
    pause = PauseCopying(world.settings, panic.audit, world.tx, world.clock)
    with pytest.raises(PermissionDenied):
        await pause((await world.follower("alice")).user, ip=None)
    assert await world.settings.copying_paused() is False
    await pause(admin, ip="10.0.0.9")
    assert await world.settings.copying_paused() is True
    [event] = await panic.audit.list()
    assert (event.action, event.actor_id, event.ip) == ("copying.paused", admin.id, "10.0.0.9")


async def test_resume_lifts_the_pause(world: World, panic: Panic) -> None:
    admin = await admin_of(world)
    await world.settings.set_copying_paused(True)
    resume = ResumeCopying(world.settings, panic.audit, world.tx, world.clock)
    with pytest.raises(PermissionDenied):
        await resume((await world.follower("alice")).user, ip=None)
    await resume(admin, ip=None)
    assert await resume.paused() is False
    assert [e.action for e in await panic.audit.list()] == ["copying.resumed"]


async def test_the_totp_secret_is_shown_until_confirmed(world: World, panic: Panic) -> None:
    admin = await admin_of(world)

    setup = SetUpPanicOtp(panic.check(), panic.otp, PanicOtpSetup(False), world.tx)
    assert (await setup.provisioning_uri(admin, ip=None)).startswith("otpauth://")
    await setup.confirm(admin, "100", ip=None)
    with pytest.raises(Conflict):
        await setup.provisioning_uri(admin, ip=None)
    operator = SetUpPanicOtp(panic.check(), panic.otp, PanicOtpSetup(True), world.tx)
    with pytest.raises(Conflict):
        await operator.provisioning_uri(admin, ip=None)


async def test_entries_planned_before_the_pause_are_not_sent_after_it(world: World) -> None:
    alice = await world.follower("alice")
    alice.exchange.set_position("BTCUSDT", PositionSide.SHORT, D("0.1"))
    signal = await world.signal(SignalAction.LONG)  # a flip: close the short, then enter
    alice.exchange.fail_next_place(ExchangeUnavailable("502 from the exchange"))
    await world.run(signal)  # the close could not go out: both legs wait for a retry
    await world.settings.set_copying_paused(True)
    world.clock.advance(PAST_THE_LEASE)

    await world.run(signal)

    close, entry = await world.legs(signal, alice)
    assert close.status is IntentStatus.FILLED
    assert entry.status is IntentStatus.SKIPPED
    assert entry.reason == COPYING_PAUSED_REASON
    assert alice.exchange.positions == {}


async def test_a_close_that_stays_unknown_is_reported_pending(world: World, panic: Panic) -> None:
    admin = await admin_of(world)
    alice = await world.follower("alice")
    alice.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.5"))
    alice.exchange.fail_next_place(OutcomeUnknown("timeout"))  # never executed

    run = await panic.pull()(admin, "100", ip=None, via="http")

    [outcome] = [o for o in run.accounts if o.account_id == alice.account.id]
    assert outcome.pending == ["BTCUSDT"]
    assert "still settling BTCUSDT" in outcome.summary
    finds = [c for c in alice.exchange.order_calls() if c[0] == "find"]
    assert len(finds) == 3  # at once, then twice more: never a second order
    assert len(alice.exchange.placed) == 0
    [close] = await panic.closes.list_for_user(alice.user.id, limit=5)
    assert close.status is IntentStatus.SUBMITTING


async def admin_and_alice_long(world: World) -> tuple[User, Follower]:
    alice = await world.follower("alice")
    alice.exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.5"))
    return await admin_of(world), alice


async def test_a_close_executing_late_is_found_by_lookups_spread_over_the_window(
    world: World, panic: Panic
) -> None:
    admin, alice = await admin_and_alice_long(world)
    # The answer is lost and the first lookup finds nothing: it executes a little later.
    alice.exchange.execute_late(at_lookup=3)

    run = await panic.pull()(admin, "100", ip=None, via="http")

    [outcome] = [o for o in run.accounts if o.account_id == alice.account.id]
    assert outcome.closed == ["BTCUSDT"]
    assert alice.exchange.positions == {}
    assert len(alice.exchange.placed) == 1  # the late execution; never a second order
    # At once, then twice over the exchange's receive window (no real waiting).
    assert [c[0] for c in alice.exchange.order_calls()] == ["place", "find", "find", "find"]
    assert world.clock.slept == [5.0, 5.0]


async def test_a_retryable_refusal_is_reported_not_left_pending(world: World, panic: Panic) -> None:
    admin, alice = await admin_and_alice_long(world)
    alice.exchange.fail_next_place(RateLimited("Too many requests"))

    run = await panic.pull()(admin, "100", ip=None, via="http")

    [outcome] = [o for o in run.accounts if o.account_id == alice.account.id]
    assert outcome.failed == {"BTCUSDT": "Too many requests"}
    assert outcome.pending == []
