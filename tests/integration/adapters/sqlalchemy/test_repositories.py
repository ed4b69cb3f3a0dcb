"""What only the SQL repositories can show, on SQLite and Postgres: races between
transactions, chunked statements, the shared rows behind them.

Their behaviour as the ports define it is the contract suites' (tests/integration/ports/
repositories/), which run it on the fakes too.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.sqlalchemy.activity import SqlPlatformActivity
from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.sqlalchemy.exchange_accounts import SqlExchangeAccountRepository
from mimic.adapters.sqlalchemy.migrations import upgrade
from mimic.adapters.sqlalchemy.notifications import SqlNotificationOutbox
from mimic.adapters.sqlalchemy.order_intents import SqlOrderIntentRepository
from mimic.adapters.sqlalchemy.signals import (
    SqlSignalRepository,
    SqlSignalSourceRepository,
    retired_dedupe_key,
)
from mimic.adapters.sqlalchemy.tables import signals as signals_table
from mimic.adapters.sqlalchemy.users import SqlUserRepository
from mimic.domain.accounts import ConnectionStatus, SignalSource
from mimic.domain.activity import CopyingCounts
from mimic.domain.errors import Conflict
from mimic.domain.fanout import FanoutPart
from mimic.domain.guardrails import GuardrailSettings
from mimic.domain.notifications import Channel, DeliveryResult, Notification
from mimic.domain.orders import (
    IntentStatus,
    OrderIntent,
)
from mimic.domain.risk import FollowerRiskSettings
from mimic.domain.signal import Signal, SignalStatus
from tests.integration.ports.rows import (
    BODY_KEY,
    NOW,
    SOURCE_ID,
    WINDOW,
    make_account,
    make_intent,
    make_signal,
    make_user,
    new_id,
)

Sessions = async_sessionmaker[AsyncSession]


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


async def test_an_expired_body_key_is_retired_beside_its_signal(sessions: Sessions) -> None:
    """The unique (source, key) slot is freed by moving the old key aside, not deleting it."""
    old = make_signal(received_at=NOW - 2 * WINDOW)
    await store_signal(sessions, old)
    await store_signal(sessions, make_signal())
    async with sessions() as session:
        kept_old = await SqlSignalRepository(session).get(old.id)
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


def test_longest_id_key_fits_when_retired() -> None:
    key = "id:" + "x" * 197
    retired = retired_dedupe_key(key, "f" * 32)
    assert len(retired) == 200
    assert retired.endswith("#" + "f" * 32)


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


async def test_a_claim_without_returning_reads_its_rows_back(sessions: Sessions) -> None:
    """SQLite before 3.35 has no UPDATE ... RETURNING: the claim selects what it updated.

    With RETURNING the contract suite covers it (tests/integration/ports/repositories/).
    """
    signal = make_signal()
    await store_signal(sessions, signal)
    intents = [make_intent(signal, new_id()) for _ in range(3)]
    ids = [i.id for i in intents]
    lease = timedelta(seconds=60)
    async with sessions() as session:
        session.get_bind().dialect.update_returning = False
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
