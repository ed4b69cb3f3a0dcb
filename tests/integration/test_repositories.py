"""The SQL repositories against real SQLite and Postgres, each test on both."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.sqlalchemy.activity import SqlPlatformActivity
from mimic.adapters.sqlalchemy.audit import SqlAuditLog
from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.sqlalchemy.exchange_accounts import SqlExchangeAccountRepository
from mimic.adapters.sqlalchemy.migrations import upgrade
from mimic.adapters.sqlalchemy.notifications import SqlNotificationOutbox
from mimic.adapters.sqlalchemy.order_intents import SqlOrderIntentRepository
from mimic.adapters.sqlalchemy.platform_settings import SqlSettingsRepository
from mimic.adapters.sqlalchemy.protection import SqlPositionIntentRepository
from mimic.adapters.sqlalchemy.signals import (
    SqlSignalRepository,
    SqlSignalSourceRepository,
    retired_dedupe_key,
)
from mimic.adapters.sqlalchemy.tables import signals as signals_table
from mimic.adapters.sqlalchemy.users import SqlUserRepository
from mimic.domain.accounts import ConnectionStatus, ExchangeAccount, Role, SignalSource, User
from mimic.domain.activity import CopyingCounts
from mimic.domain.audit import AuditEvent
from mimic.domain.errors import Conflict
from mimic.domain.fanout import FanoutPart
from mimic.domain.guardrails import GuardrailSettings
from mimic.domain.notifications import Channel, DeliveryResult, Notification
from mimic.domain.orders import (
    IntentStatus,
    OrderFill,
    OrderFilters,
    OrderIntent,
    OrderLeg,
    OrderSide,
    client_order_id,
)
from mimic.domain.protection import DcaSettings, ProtectionSettings, TrailingSettings
from mimic.domain.risk import FollowerRiskSettings, PlatformRiskSettings, UserCaps
from mimic.domain.signal import Signal, SignalAction, SignalParams, SignalStatus

Sessions = async_sessionmaker[AsyncSession]

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=60)
TINY = Decimal("0.000000000000000001")
HUGE = Decimal("12345678901234567.5")
BODY_KEY = "body:" + "ab" * 32
SOURCE_ID = "s" * 32


def new_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    factory = create_session_factory(engine)
    async with factory() as session:
        await SqlSignalSourceRepository(session).add(SignalSource(SOURCE_ID, "master", "hash"))
        await session.commit()
    yield factory
    await engine.dispose()


def make_user(name: str, **changes: object) -> User:
    user = User(
        id=new_id(),
        username=name,
        email=f"{name}@example.com",
        password_hash="argon2-hash",
        role=Role.USER,
        created_at=NOW,
    )
    for field, value in changes.items():
        setattr(user, field, value)
    return user


def make_signal(
    key: str = BODY_KEY, *, received_at: datetime = NOW, symbol: str = "BTCUSDT"
) -> Signal:
    return Signal(
        id=new_id(),
        source_id=SOURCE_ID,
        params=SignalParams(symbol=symbol, action=SignalAction.LONG),
        dedupe_key=key,
        received_at=received_at,
    )


def make_account(user: User, status: ConnectionStatus, **changes: object) -> ExchangeAccount:
    account = ExchangeAccount(
        id=new_id(), user_id=user.id, exchange="paper", label="main", created_at=NOW
    )
    account.status = status
    for field, value in changes.items():
        setattr(account, field, value)
    return account


def make_intent(signal: Signal, account_id: str, leg: OrderLeg = OrderLeg.ENTRY) -> OrderIntent:
    return OrderIntent(
        id=new_id(),
        signal_id=signal.id,
        account_id=account_id,
        user_id="u" * 32,
        leg=leg,
        symbol=signal.params.symbol,
        side=OrderSide.BUY,
        quantity=HUGE,
        reduce_only=False,
        leverage=5,
        client_order_id=client_order_id(signal.id, account_id, leg),
        created_at=NOW,
    )


async def store_signal(sessions: Sessions, signal: Signal) -> None:
    async with sessions() as session:
        _, duplicate = await SqlSignalRepository(session).add_unless_duplicate(
            signal, expiring_after=signal.received_at - WINDOW
        )
        assert not duplicate
        await session.commit()


async def count_signals(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(
            (await session.execute(select(func.count()).select_from(signals_table))).scalar_one()
        )


async def test_user_round_trips_settings_caps_and_utc_times(sessions: Sessions) -> None:
    created = datetime(2025, 3, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    user = make_user(
        "alice",
        created_at=created,
        settings=FollowerRiskSettings(risk_perc=TINY, leverage=7, paused=True),
        caps=UserCaps(max_risk_perc=HUGE, max_leverage=10),
    )
    async with sessions() as session:
        await SqlUserRepository(session).add(user)
        await session.commit()
    async with sessions() as session:
        loaded = await SqlUserRepository(session).get(user.id)
        by_name = await SqlUserRepository(session).get_by_username("alice")
    assert loaded == user == by_name
    assert loaded is not None
    assert loaded.settings.risk_perc == TINY
    assert str(loaded.settings.risk_perc) == str(TINY)
    assert loaded.caps.max_risk_perc == HUGE
    assert str(loaded.caps.max_risk_perc) == str(HUGE)
    assert loaded.created_at.tzinfo is UTC
    assert loaded.created_at == created

    loaded.active = False
    loaded.role = Role.ADMIN
    loaded.settings = FollowerRiskSettings()
    async with sessions() as session:
        await SqlUserRepository(session).save(loaded)
        await session.commit()
    async with sessions() as session:
        assert await SqlUserRepository(session).get(user.id) == loaded
        assert await SqlUserRepository(session).get("missing") is None


async def test_users_with_the_same_settings_share_them(sessions: Sessions) -> None:
    guarded = GuardrailSettings(drawdown_stop_perc=Decimal(5))
    alike = [make_user(name, guardrails=guarded) for name in ("ann", "ben")]
    other = make_user("cid", settings=FollowerRiskSettings(leverage=3), guardrails=guarded)
    async with sessions() as session:
        for user in (*alike, other):
            await SqlUserRepository(session).add(user)
        await session.commit()
    async with sessions() as session:
        ann, ben, cid = [await SqlUserRepository(session).get(u.id) for u in (*alike, other)]
    assert ann is not None
    assert ben is not None
    assert cid is not None
    assert (ann, ben, cid) == (*alike, other)
    assert ann.settings is ben.settings  # frozen values, read once for both
    assert ann.guardrails is ben.guardrails is cid.guardrails
    assert cid.settings == FollowerRiskSettings(leverage=3)
    assert ann.settings == FollowerRiskSettings()


async def test_referral_code_finds_the_referrer_and_links_survive(sessions: Sessions) -> None:
    alice = make_user("alice", referral_code="ABCDE23456")
    bob = make_user("bob", referral_code="ZXCVB98765", referred_by=alice.id)
    async with sessions() as session:
        repo = SqlUserRepository(session)
        await repo.add(alice)
        await repo.add(bob)
        await session.commit()
    async with sessions() as session:
        repo = SqlUserRepository(session)
        assert await repo.get_by_referral_code("ABCDE23456") == alice
        assert await repo.get_by_referral_code("NOPE") is None
        loaded = await repo.get(bob.id)
    assert loaded is not None
    assert loaded.referred_by == alice.id


async def test_audit_log_filters_and_pages_newest_first(sessions: Sessions) -> None:
    events = [
        AuditEvent(new_id(), NOW, "auth.login_failed", None, "user:alice", "10.0.0.1"),
        AuditEvent(new_id(), NOW + timedelta(seconds=1), "auth.login", "a" * 32, ip="10.0.0.1"),
        AuditEvent(
            new_id(),
            NOW + timedelta(seconds=2),
            "exchange.approved",
            "b" * 32,
            "exchange:x",
            details={"reason": "keys checked", "note": "ünïcode"},
        ),
        AuditEvent(new_id(), NOW + timedelta(seconds=3), "auth_other", "a" * 32),
    ]
    async with sessions() as session:
        log = SqlAuditLog(session)
        for event in events:
            await log.record(event)
        await session.commit()
    async with sessions() as session:
        log = SqlAuditLog(session)
        assert await log.list() == list(reversed(events))
        assert await log.list(action="auth.") == [events[1], events[0]]
        assert await log.list(action="auth.login") == [events[1]]
        assert await log.list(action="auth_%.") == []  # a prefix is not a LIKE pattern
        assert await log.list(actor_id="a" * 32) == [events[3], events[1]]
        assert await log.list(offset=1, limit=2) == [events[2], events[1]]
        approved = (await log.list(action="exchange.approved"))[0]
    assert dict(approved.details) == {"reason": "keys checked", "note": "ünïcode"}
    assert approved.at.tzinfo is UTC


async def test_user_list_pages_in_creation_order(sessions: Sessions) -> None:
    async with sessions() as session:
        repo = SqlUserRepository(session)
        for n in range(5):
            await repo.add(make_user(f"user{n}", created_at=NOW + timedelta(seconds=n)))
        await session.commit()
        page = await repo.list(offset=1, limit=2)
    assert [u.username for u in page] == ["user1", "user2"]


async def test_user_add_reports_which_field_is_taken(sessions: Sessions) -> None:
    async with sessions() as session:
        repo = SqlUserRepository(session)
        await repo.add(make_user("alice"))
        await session.commit()
        with pytest.raises(Conflict, match="username is taken"):
            await repo.add(make_user("alice", email="other@example.com"))
        with pytest.raises(Conflict, match="email is already registered"):
            await repo.add(make_user("bob", email="alice@example.com"))
        bob = make_user("bob")
        await repo.add(bob)
        await repo.save(bob)  # its own name and email are not a conflict
        bob.username = "alice"
        with pytest.raises(Conflict, match="username is taken"):
            await repo.save(bob)


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"email": "other@example.com"}, "username is taken"),
        ({"username": "bob"}, "email is already registered"),
    ],
)
async def test_user_add_race_is_decided_by_the_unique_constraint(
    sessions: Sessions, second: dict[str, str], message: str
) -> None:
    """The second registration passes the check (the first is uncommitted), then loses."""
    async with sessions() as first, sessions() as other:
        await SqlUserRepository(first).add(make_user("alice"))
        late = asyncio.create_task(SqlUserRepository(other).add(make_user("alice", **second)))
        await asyncio.sleep(0.3)  # let it reach the INSERT, which waits for the first
        await first.commit()
        with pytest.raises(Conflict, match=message):
            await late


async def test_signal_round_trip_keeps_decimals_and_utc(sessions: Sessions) -> None:
    signal = make_signal("id:alert-1", received_at=NOW.astimezone(timezone(timedelta(hours=-5))))
    signal.params = SignalParams(
        symbol="ETHUSDT",
        action=SignalAction.SHORT,
        risk_perc=TINY,
        leverage=3,
        tp_perc=HUGE,
        sl_perc=Decimal("2.5"),
        external_id="alert-1",
    )
    await store_signal(sessions, signal)
    async with sessions() as session:
        loaded = await SqlSignalRepository(session).get(signal.id)
    assert loaded == signal
    assert loaded is not None
    assert loaded.received_at.tzinfo is UTC
    assert str(loaded.params.risk_perc) == str(TINY)


async def test_ten_concurrent_identical_signals_store_one(sessions: Sessions) -> None:
    async def receive() -> tuple[Signal, bool]:
        async with sessions() as session:
            result = await SqlSignalRepository(session).add_unless_duplicate(
                make_signal(), expiring_after=NOW - WINDOW
            )
            await session.commit()
            return result

    results = await asyncio.gather(*(receive() for _ in range(10)))
    stored = [signal for signal, duplicate in results if not duplicate]
    duplicates = [signal for signal, duplicate in results if duplicate]
    assert len(stored) == 1
    assert len(duplicates) == 9
    assert {signal.id for signal in duplicates} == {stored[0].id}
    assert await count_signals(sessions) == 1


async def test_body_key_outside_the_window_stores_a_new_signal(sessions: Sessions) -> None:
    old = make_signal(received_at=NOW - 2 * WINDOW)
    await store_signal(sessions, old)
    async with sessions() as session:
        repo = SqlSignalRepository(session)
        fresh, duplicate = await repo.add_unless_duplicate(
            make_signal(), expiring_after=NOW - WINDOW
        )
        assert not duplicate
        assert fresh.id != old.id
        # A resend within the window of the new one is its duplicate.
        again, duplicate = await repo.add_unless_duplicate(
            make_signal(received_at=NOW + timedelta(seconds=5)), expiring_after=NOW - WINDOW
        )
        assert duplicate
        assert again.id == fresh.id
        await session.commit()
        kept_old = await repo.get(old.id)
    assert kept_old is not None
    assert kept_old.dedupe_key == f"{BODY_KEY}#{old.id}"
    assert await count_signals(sessions) == 2


async def test_concurrent_signals_after_the_window_store_exactly_one(sessions: Sessions) -> None:
    await store_signal(sessions, make_signal(received_at=NOW - 2 * WINDOW))

    async def receive() -> tuple[Signal, bool]:
        async with sessions() as session:
            result = await SqlSignalRepository(session).add_unless_duplicate(
                make_signal(), expiring_after=NOW - WINDOW
            )
            await session.commit()
            return result

    results = await asyncio.gather(*(receive() for _ in range(10)))
    stored = [signal for signal, duplicate in results if not duplicate]
    assert len(stored) == 1
    assert {signal.id for signal, _ in results} == {stored[0].id}
    assert await count_signals(sessions) == 2


async def test_explicit_id_keys_never_expire(sessions: Sessions) -> None:
    old = make_signal("id:order-42", received_at=NOW - timedelta(days=30))
    await store_signal(sessions, old)
    async with sessions() as session:
        found, duplicate = await SqlSignalRepository(session).add_unless_duplicate(
            make_signal("id:order-42"), expiring_after=NOW - WINDOW
        )
    assert duplicate
    assert found.id == old.id


def test_longest_id_key_fits_when_retired() -> None:
    key = "id:" + "x" * 197
    retired = retired_dedupe_key(key, "f" * 32)
    assert len(retired) == 200
    assert retired.endswith("#" + "f" * 32)


async def test_unfinished_signals(sessions: Sessions) -> None:
    first = make_signal("id:1", received_at=NOW - timedelta(seconds=30))
    second = make_signal("id:2", received_at=NOW - timedelta(seconds=20))
    other_symbol = make_signal("id:3", received_at=NOW - timedelta(seconds=25), symbol="ETHUSDT")
    late = make_signal("id:4", received_at=NOW)
    # Received at the same time: the lower id goes first.
    tie_low, tie_high = (
        make_signal(f"id:{n}", received_at=NOW - timedelta(seconds=10), symbol="DOGEUSDT")
        for n in (5, 6)
    )
    tie_low.id, tie_high.id = "0" * 32, "f" * 32
    for signal in (second, first, other_symbol, late, tie_high, tie_low):
        await store_signal(sessions, signal)
    async with sessions() as session:
        repo = SqlSignalRepository(session)
        assert [s.id for s in await repo.list_next_in_line()] == [
            first.id,
            other_symbol.id,
            tie_low.id,
        ]
        assert (await repo.first_unfinished(SOURCE_ID, "BTCUSDT")) == first
        assert (await repo.first_unfinished(SOURCE_ID, "DOGEUSDT")) == tie_low
        assert await repo.first_unfinished(SOURCE_ID, "XRPUSDT") is None
        assert await repo.has_unfinished_before(second)
        assert not await repo.has_unfinished_before(first)
        assert not await repo.has_unfinished_before(other_symbol)
        await repo.set_status(first.id, SignalStatus.DONE)
        await session.commit()
        assert not await repo.has_unfinished_before(second)
        assert [s.id for s in await repo.list_next_in_line()] == [
            other_symbol.id,
            second.id,
            tie_low.id,
        ]
        assert (await repo.first_unfinished(SOURCE_ID, "BTCUSDT")) == second
        recent = await repo.list_recent(limit=2)
    assert [s.id for s in recent] == [late.id, tie_high.id]


async def test_accounts_and_copy_candidates(sessions: Sessions) -> None:
    trailing = TrailingSettings(True, Decimal(2), Decimal(1))
    active = make_user("active")
    paused = make_user(
        "paused",
        settings=FollowerRiskSettings(paused=True),
        protection=ProtectionSettings(trailing=trailing),
    )
    inactive = make_user(
        "inactive", active=False, protection=ProtectionSettings(dca=DcaSettings(enabled=True))
    )
    approved = make_account(active, ConnectionStatus.APPROVED, api_key_masked="abcd...wxyz")
    disabled = make_account(active, ConnectionStatus.APPROVED, enabled=False)
    pending = make_account(active, ConnectionStatus.PENDING)
    rejected = make_account(paused, ConnectionStatus.REJECTED, status_reason="bad key")
    of_paused = make_account(paused, ConnectionStatus.APPROVED)
    of_inactive = make_account(inactive, ConnectionStatus.APPROVED)
    everyone = [approved, disabled, pending, rejected, of_paused, of_inactive]
    for n, account in enumerate(everyone):
        account.created_at = NOW + timedelta(seconds=n)
    async with sessions() as session:
        for user in (active, paused, inactive):
            await SqlUserRepository(session).add(user)
        repo = SqlExchangeAccountRepository(session)
        for account in everyone:
            await repo.add(account)
        await session.commit()

    async with sessions() as session:
        repo = SqlExchangeAccountRepository(session)
        candidates = await repo.list_copy_candidates()
        assert [(a.id, u.id) for a, u in candidates] == [
            (approved.id, active.id),
            (disabled.id, active.id),
            (of_paused.id, paused.id),
        ]
        assert candidates[0] == (approved, active)
        assert candidates[2][1].settings.paused
        # The position monitor reads only followers with a trailing stop or DCA.
        assert await repo.list_copy_candidates(monitored_only=True) == [candidates[2]]
        # The stream holders read the same accounts, without their users.
        assert await repo.list_streamed() == [a for a, _ in candidates]

        assert await repo.get(rejected.id) == rejected
        # More ids than one IN list holds: the query is chunked.
        wanted = [approved.id, of_inactive.id, *(new_id() for _ in range(600))]
        assert {a.id for a in await repo.get_many(wanted)} == {approved.id, of_inactive.id}
        assert await repo.list_for_user(active.id) == [approved, disabled, pending]
        assert await repo.list_by_status(ConnectionStatus.PENDING) == [pending]
        assert len(await repo.list_by_status(None)) == len(everyone)

        pending.status = ConnectionStatus.APPROVED
        pending.enabled = False
        await repo.save(pending)
        await repo.delete(disabled.id)
        await session.commit()
        assert await repo.get(pending.id) == pending
        assert await repo.get(disabled.id) is None


async def test_add_new_ignores_intents_already_planned(sessions: Sessions) -> None:
    signal = make_signal()
    await store_signal(sessions, signal)
    entry = make_intent(signal, "a" * 32)
    close = make_intent(signal, "a" * 32, OrderLeg.CLOSE)
    async with sessions() as session:
        repo = SqlOrderIntentRepository(session)
        await repo.add_new([entry])
        await repo.add_new([make_intent(signal, "a" * 32), close])  # entry planned again
        await repo.add_new([])
        await session.commit()
        stored = await repo.list_for_signal(signal.id)
    assert {i.id for i in stored} == {entry.id, close.id}
    assert next(i for i in stored if i.id == entry.id) == entry
    assert stored[0].quantity == HUGE
    assert str(stored[0].quantity) == str(HUGE)


async def test_add_new_in_bulk(sessions: Sessions) -> None:
    signal = make_signal()
    await store_signal(sessions, signal)
    intents = [make_intent(signal, new_id()) for _ in range(1200)]
    async with sessions() as session:
        repo = SqlOrderIntentRepository(session)
        await repo.add_new(intents)
        await repo.add_new(intents[:10])
        await session.commit()
        assert len(await repo.list_for_signal(signal.id)) == 1200


async def test_add_new_reports_what_it_inserted_and_holds_it_for_the_planner(
    sessions: Sessions,
) -> None:
    signal = make_signal()
    await store_signal(sessions, signal)
    held, skipped = make_intent(signal, new_id()), make_intent(signal, new_id())
    held.hold_for_sending(NOW)
    skipped.skip("copying is paused", NOW)
    lease = NOW + timedelta(seconds=60)
    async with sessions() as session:
        repo = SqlOrderIntentRepository(session)
        assert await repo.add_new([held, skipped], lease_until=lease) == {held.id, skipped.id}
        again = make_intent(signal, held.account_id)
        assert await repo.add_new([again], lease_until=lease) == set()
        await session.commit()
        # The planner holds its intent: nobody else can claim it before the lease runs out.
        assert await repo.claim([held.id, skipped.id], now=NOW, lease_until=lease) == []
        retaken = await repo.claim([held.id], now=lease + timedelta(seconds=1), lease_until=lease)
        assert [(i.id, i.status, i.attempts) for i in retaken] == [
            (held.id, IntentStatus.SUBMITTING, 2)
        ]


async def test_a_signal_is_in_hand_while_one_of_its_intents_is_leased(sessions: Sessions) -> None:
    held_signal, idle_signal = make_signal("id:held"), make_signal("id:idle")
    for signal in (held_signal, idle_signal):
        await store_signal(sessions, signal)
    held, idle = make_intent(held_signal, new_id()), make_intent(idle_signal, new_id())
    held.hold_for_sending(NOW)
    lease = NOW + timedelta(seconds=60)
    async with sessions() as session:
        repo = SqlOrderIntentRepository(session)
        await repo.add_new([held, idle], lease_until=lease)
        await session.commit()
        ids = [held_signal.id, idle_signal.id]
        assert await repo.signals_in_hand(ids, now=NOW) == {held_signal.id}
        assert await repo.signals_in_hand(ids, now=lease) == set()
        assert await repo.signals_in_hand([], now=NOW) == set()


@pytest.mark.parametrize("returning", [True, False], ids=["returning", "update-then-select"])
async def test_claim_is_exclusive_until_the_lease_runs_out(
    sessions: Sessions, returning: bool
) -> None:
    signal = make_signal()
    await store_signal(sessions, signal)
    intents = [make_intent(signal, new_id()) for _ in range(3)]
    ids = [i.id for i in intents]
    lease = timedelta(seconds=60)
    async with sessions() as session:
        # Without RETURNING (SQLite before 3.35) the claim reads its rows back instead.
        session.get_bind().dialect.update_returning = returning
        repo = SqlOrderIntentRepository(session)
        await repo.add_new(intents)
        await session.commit()

        claimed = await repo.claim(ids, now=NOW, lease_until=NOW + lease)
        await session.commit()
        assert [i.id for i in claimed] == ids
        assert all(i.status is IntentStatus.SUBMITTING and i.attempts == 1 for i in claimed)
        assert await repo.claim(ids, now=NOW + lease / 2, lease_until=NOW + lease * 2) == []

        later = NOW + lease + timedelta(seconds=1)
        again = await repo.claim(ids[:2], now=later, lease_until=later + lease)
        await session.commit()
        assert [(i.id, i.attempts) for i in again] == [(ids[0], 2), (ids[1], 2)]


async def test_concurrent_claims_split_the_intents(sessions: Sessions) -> None:
    signal = make_signal()
    await store_signal(sessions, signal)
    intents = [make_intent(signal, new_id()) for _ in range(50)]
    async with sessions() as session:
        await SqlOrderIntentRepository(session).add_new(intents)
        await session.commit()

    async def claim() -> list[OrderIntent]:
        async with sessions() as session:
            claimed = await SqlOrderIntentRepository(session).claim(
                [i.id for i in intents], now=NOW, lease_until=NOW + timedelta(seconds=60)
            )
            await session.commit()
            return claimed

    results = await asyncio.gather(*(claim() for _ in range(5)))
    claimed_ids = [i.id for result in results for i in result]
    assert sorted(claimed_ids) == sorted(i.id for i in intents)


async def test_save_results_settles_or_releases(sessions: Sessions) -> None:
    signal = make_signal()
    await store_signal(sessions, signal)
    filled, rejected, unsettled = (make_intent(signal, new_id()) for _ in range(3))
    ids = [filled.id, rejected.id, unsettled.id]
    async with sessions() as session:
        repo = SqlOrderIntentRepository(session)
        await repo.add_new([filled, rejected, unsettled])
        claimed = await repo.claim(ids, now=NOW, lease_until=NOW + timedelta(seconds=60))
        by_id = {i.id: i for i in claimed}
        later = NOW + timedelta(seconds=2)
        by_id[filled.id].record_fill(
            OrderFill("x-1", filled.client_order_id, "BTCUSDT", OrderSide.BUY, HUGE, TINY, TINY),
            later,
        )
        by_id[rejected.id].reject("margin is insufficient", later)
        by_id[unsettled.id].retry_later("outcome unknown", later)
        await repo.save_results(claimed)
        await session.commit()

    async with sessions() as session:
        repo = SqlOrderIntentRepository(session)
        stored = {i.id: i for i in await repo.list_for_signal(signal.id)}
        assert stored == by_id
        assert stored[filled.id].average_price == TINY
        assert stored[filled.id].updated_at == later
        # The unsettled one is pending again: claimable at once, attempts counting on.
        retried = await repo.claim(ids, now=later, lease_until=later + timedelta(seconds=60))
    assert [(i.id, i.attempts) for i in retried] == [(unsettled.id, 2)]


async def test_list_for_user_newest_first(sessions: Sessions) -> None:
    signal = make_signal()
    await store_signal(sessions, signal)
    intents = [make_intent(signal, new_id()) for _ in range(4)]
    for n, intent in enumerate(intents):
        intent.created_at = NOW + timedelta(seconds=n)
    intents[3].user_id = "v" * 32
    async with sessions() as session:
        repo = SqlOrderIntentRepository(session)
        await repo.add_new(intents)
        await session.commit()
        mine = await repo.list_for_user("u" * 32, limit=2)
        intents[0].status = IntentStatus.REJECTED
        intents[1].status = IntentStatus.SUBMITTING
        await repo.save_results(intents[:2])
        await session.commit()
        in_flight = OrderFilters.parse("pending", None)
        pending = await repo.list_for_user("u" * 32, limit=10, filters=in_flight)
        rejected = await repo.list_for_user(
            "u" * 32, limit=10, filters=OrderFilters.parse("rejected", intents[0].symbol)
        )
        elsewhere = await repo.list_for_user(
            "u" * 32, limit=10, filters=OrderFilters.parse(None, "DOGEUSDT")
        )
    assert [i.id for i in mine] == [intents[2].id, intents[1].id]
    assert [i.id for i in pending] == [intents[2].id, intents[1].id]
    assert [i.id for i in rejected] == [intents[0].id]
    assert elsewhere == []


async def test_platform_risk_settings(sessions: Sessions) -> None:
    async with sessions() as session:
        repo = SqlSettingsRepository(session)
        assert await repo.get_platform_risk() == PlatformRiskSettings()
        first = PlatformRiskSettings(
            default_risk_perc=Decimal("0.25"),
            default_leverage=3,
            max_risk_perc=Decimal("2.125"),
            max_leverage=10,
        )
        await repo.save_platform_risk(first)
        await session.commit()
        second = PlatformRiskSettings(default_risk_perc=TINY, max_leverage=50)
        await repo.save_platform_risk(second)
        await session.commit()
    async with sessions() as session:
        loaded = await SqlSettingsRepository(session).get_platform_risk()
    assert loaded == second
    assert str(loaded.default_risk_perc) == str(TINY)


async def test_signal_parts_finish_one_by_one(sessions: Sessions) -> None:
    signal = make_signal("id:parts")
    signal.fanout_parts = 3
    await store_signal(sessions, signal)
    async with sessions() as session:
        repo = SqlSignalRepository(session)
        stored = await repo.get(signal.id)
        assert stored is not None
        assert (stored.fanout_parts, stored.finished_parts) == (3, frozenset())
        assert await repo.finish_part(signal.id, FanoutPart(1, 3)) is False
        assert await repo.finish_part(signal.id, FanoutPart(1, 3)) is False  # idempotent
        assert await repo.finish_part(signal.id, FanoutPart(0, 3)) is False
        await session.commit()
        stored = await repo.get(signal.id)
        assert stored is not None
        assert stored.finished_parts == frozenset({0, 1})
        assert stored.status is SignalStatus.RECEIVED
        assert [p.index for p in stored.unfinished_parts()] == [2]
        assert await repo.finish_part(signal.id, FanoutPart(2, 3)) is True
        await session.commit()
        assert await repo.list_next_in_line() == []
        stored = await repo.get(signal.id)
    assert stored is not None
    assert stored.status is SignalStatus.DONE


async def test_parts_finishing_at_once_leave_the_signal_done(sessions: Sessions) -> None:
    parted = [make_signal(f"id:at-once-{n}") for n in range(5)]
    for signal in parted:
        signal.fanout_parts = 2
        await store_signal(sessions, signal)

    async def finish(signal: Signal, index: int) -> bool:
        async with sessions() as session:
            done = await SqlSignalRepository(session).finish_part(signal.id, FanoutPart(index, 2))
            await asyncio.sleep(0.01)  # both transactions open at once
            await session.commit()
            return done

    for signal in parted:
        outcomes = await asyncio.gather(finish(signal, 0), finish(signal, 1))
        assert sorted(outcomes) == [False, True]  # exactly one of them was the last
        async with sessions() as session:
            stored = await SqlSignalRepository(session).get(signal.id)
        assert stored is not None
        assert stored.status is SignalStatus.DONE


async def test_copy_candidates_and_signal_intents_by_part(sessions: Sessions) -> None:
    user = make_user("parted")
    low = make_account(user, ConnectionStatus.APPROVED, id="1" + new_id()[1:])
    high = make_account(user, ConnectionStatus.APPROVED, id="c" + new_id()[1:])
    signal = make_signal("id:by-part")
    await store_signal(sessions, signal)
    first, second = FanoutPart(0, 2), FanoutPart(1, 2)
    async with sessions() as session:
        await SqlUserRepository(session).add(user)
        accounts = SqlExchangeAccountRepository(session)
        for account in (low, high):
            await accounts.add(account)
        intents = SqlOrderIntentRepository(session)
        await intents.add_new([make_intent(signal, low.id), make_intent(signal, high.id)])
        await session.commit()

        assert [a.id for a, _ in await accounts.list_copy_candidates(part=first)] == [low.id]
        assert [a.id for a, _ in await accounts.list_copy_candidates(part=second)] == [high.id]
        assert len(await accounts.list_copy_candidates()) == 2
        assert [i.account_id for i in await intents.list_for_signal(signal.id, part=first)] == [
            low.id
        ]
        assert [i.account_id for i in await intents.list_for_signal(signal.id, part=second)] == [
            high.id
        ]
        assert len(await intents.list_for_signal(signal.id)) == 2


async def test_platform_activity_counts_hours_and_finds_what_failed(sessions: Sessions) -> None:
    hours = [NOW - timedelta(hours=2), NOW - timedelta(hours=1), NOW]
    for received in (NOW - timedelta(hours=3), hours[0], NOW, NOW + timedelta(minutes=59)):
        await store_signal(sessions, make_signal(new_id(), received_at=received))
    signal = make_signal(new_id(), received_at=NOW)
    await store_signal(sessions, signal)
    orders = [make_intent(signal, new_id()) for _ in range(3)]
    for n, intent in enumerate(orders):
        intent.created_at = NOW - timedelta(minutes=n)
    orders[0].reject("insufficient margin", NOW)
    orders[2].reject("symbol closed", NOW)
    old = make_intent(signal, new_id())
    old.created_at = NOW - timedelta(days=2)
    old.reject("long ago", NOW - timedelta(days=2))
    failing, delivered, fine = (
        Notification(new_id(), "u" * 32, "order.rejected", "text", NOW - timedelta(minutes=n))
        for n in range(3)
    )
    ann = make_user("ann")
    bob = make_user("bob", settings=FollowerRiskSettings(paused=True))
    copied = make_account(ann, ConnectionStatus.APPROVED)
    not_copied = [
        make_account(ann, ConnectionStatus.APPROVED, enabled=False),
        make_account(ann, ConnectionStatus.PENDING),
        make_account(bob, ConnectionStatus.APPROVED),  # bob paused his copying
    ]
    async with sessions() as session:
        await SqlUserRepository(session).add(ann)
        await SqlUserRepository(session).add(bob)
        for account in [copied, *not_copied]:
            await SqlExchangeAccountRepository(session).add(account)
        await SqlOrderIntentRepository(session).add_new([*orders, old])
        outbox = SqlNotificationOutbox(session)
        await outbox.add_many([failing, delivered, fine])
        await outbox.record_deliveries(
            [
                DeliveryResult(failing.id, frozenset(), None, NOW, "smtp: 421"),
                DeliveryResult(delivered.id, frozenset({Channel.EMAIL}), NOW, None, None),
            ]
        )
        await session.commit()
        activity = SqlPlatformActivity(session)
        per_hour = await activity.signals_per_hour(hours)
        rejected = await activity.rejected_orders(since=NOW - timedelta(days=1), limit=10)
        deliveries = await activity.failed_deliveries(limit=10)
        copying = await activity.copying()
        names = await SqlUserRepository(session).usernames([ann.id, "nobody"])
    assert per_hour == [1, 0, 3]
    assert [(o.id, o.reason) for o in rejected] == [
        (orders[0].id, "insufficient margin"),
        (orders[2].id, "symbol closed"),
    ]
    assert [(d.notification_id, d.error, d.attempts) for d in deliveries] == [
        (failing.id, "smtp: 421", 0)
    ]
    assert names == {ann.id: "ann"}
    assert copying == CopyingCounts(followers=1, accounts=1)


async def test_latest_entries_of_open_positions_match_the_monitors_read(
    sessions: Sessions,
) -> None:
    account_id = new_id()
    entries = []
    for n, (symbol, status) in enumerate(
        [
            ("BTCUSDT", IntentStatus.FILLED),
            ("BTCUSDT", IntentStatus.FILLED),
            ("BTCUSDT", IntentStatus.REJECTED),  # newest, but it opened nothing
            ("ETHUSDT", IntentStatus.FILLED),
        ]
    ):
        signal = make_signal(new_id(), symbol=symbol, received_at=NOW + timedelta(minutes=n))
        await store_signal(sessions, signal)
        entry = make_intent(signal, account_id)
        entry.created_at = NOW + timedelta(minutes=n)
        entry.status = status
        entries.append(entry)
    async with sessions() as session:
        await SqlOrderIntentRepository(session).add_new(entries)
        await session.commit()
        repo = SqlPositionIntentRepository(session)
        shown = await repo.latest_entries_of([(account_id, "BTCUSDT"), (account_id, "SOLUSDT")])
        monitored = await repo.latest_entries([account_id])
    assert [e.id for e in shown] == [entries[1].id]
    assert [e.id for e in monitored] == [entries[1].id, entries[3].id]
