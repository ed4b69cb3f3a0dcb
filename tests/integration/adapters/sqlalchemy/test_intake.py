"""The webhook's store (SqlSignalIntake) on SQLite and Postgres: what it remembers of a
source never lets through an alert the source no longer stands for, and an alert is stored
once whichever way it goes."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.sqlalchemy.engine import (
    create_engine,
    create_session_factory,
    open_intake_pool,
)
from mimic.adapters.sqlalchemy.intake import SqlSignalIntake
from mimic.adapters.sqlalchemy.migrations import upgrade
from mimic.adapters.sqlalchemy.signals import SqlSignalRepository, SqlSignalSourceRepository
from mimic.adapters.sqlalchemy.tables import signals
from mimic.domain.accounts import SignalSource, TradeDirection
from mimic.domain.signal import Signal, SignalAction, SignalParams

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(seconds=60)
HASH = "a" * 64

World = tuple[SqlSignalIntake, async_sessionmaker[AsyncSession], SignalSource]


def make_signal(source_id: str, key: str) -> Signal:
    return Signal(
        id=uuid.uuid4().hex,
        source_id=source_id,
        params=SignalParams(
            symbol="BTCUSDT", action=SignalAction.LONG, risk_perc=Decimal("1.5"), leverage=3
        ),
        dedupe_key=key,
        received_at=NOW,
    )


async def stored_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(signals))).scalar_one())


def intake_is_at_once(sessions: async_sessionmaker[AsyncSession]) -> bool:
    bind = sessions.kw["bind"]
    return bool(bind.dialect.name == "postgresql")


async def remembered(intake: SqlSignalIntake, passphrase_hash: str = HASH) -> SignalSource:
    source = await intake.source_by_passphrase_hash(passphrase_hash)
    assert source is not None
    return source


async def save_source(sessions: async_sessionmaker[AsyncSession], source: SignalSource) -> None:
    async with sessions() as session:
        await SqlSignalSourceRepository(session).save(source)
        await session.commit()


@asynccontextmanager
async def with_a_source(
    url: str,
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], SignalSource]]:
    """The database at head, holding one source."""
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    source = SignalSource(id=uuid.uuid4().hex, name="master", passphrase_hash=HASH)
    async with sessions() as session:
        await SqlSignalSourceRepository(session).add(source)
        await session.commit()
    try:
        yield sessions, source
    finally:
        await engine.dispose()


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    async with with_a_source(database_url) as (sessions, source):
        at_once = await open_intake_pool(database_url)
        yield SqlSignalIntake(sessions, at_once), sessions, source
        if at_once is not None:
            await at_once.close()


async def test_a_signal_is_stored_once_with_its_values(world: World) -> None:
    intake, sessions, _ = world
    source = await intake.source_by_passphrase_hash(HASH)
    assert source is not None
    signal = make_signal(source.id, "id:one")

    assert await intake.store(signal, source, expiring_after=EARLIER) == (signal, False)
    again = make_signal(source.id, "id:one")
    assert await intake.store(again, source, expiring_after=EARLIER) == (signal, True)

    async with sessions() as session:
        read = await SqlSignalRepository(session).get(signal.id)
    assert read == signal
    assert await stored_count(sessions) == 1


async def test_an_unknown_or_inactive_passphrase_finds_no_active_source(world: World) -> None:
    intake, sessions, source = world
    assert await intake.source_by_passphrase_hash("b" * 64) is None
    await save_source(sessions, replace(source, active=False))
    found = await intake.source_by_passphrase_hash(HASH)
    assert found is not None
    assert found.active is False


@pytest.mark.parametrize(
    "change",
    [
        {"passphrase_hash": "c" * 64},
        {"active": False},
        {"direction": TradeDirection.SHORT_ONLY},
    ],
)
async def test_a_remembered_source_that_changed_stores_nothing_and_is_forgotten(
    world: World,
    change: dict[str, object],
) -> None:
    intake, sessions, _ = world
    remembered = await intake.source_by_passphrase_hash(HASH)
    assert remembered is not None
    await intake.store(make_signal(remembered.id, "id:before"), remembered, expiring_after=EARLIER)
    await save_source(sessions, replace(remembered, **change))  # type: ignore[arg-type]

    signal = make_signal(remembered.id, "id:after")
    assert await intake.store(signal, remembered, expiring_after=EARLIER) is None
    assert await stored_count(sessions) == 1
    now = await intake.source_by_passphrase_hash(HASH)  # read again, not remembered
    if "passphrase_hash" in change:
        assert now is None
    else:
        assert now is not None
        assert now != remembered


async def test_a_dropped_connection_still_stores_the_alert(world: World) -> None:
    intake, sessions, _ = world
    source = await intake.source_by_passphrase_hash(HASH)
    assert source is not None
    await intake.store(make_signal(source.id, "id:warm"), source, expiring_after=EARLIER)
    if intake_is_at_once(sessions):
        async with sessions() as session:
            # Every other backend of this database: the intake's pooled connection dies
            # (the pool replaces it if it noticed, else the statement fails and the alert
            # goes the session way).
            await session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    signal = make_signal(source.id, "id:after-drop")
    assert await intake.store(signal, source, expiring_after=EARLIER) == (signal, False)
    assert await stored_count(sessions) == 2


async def test_what_the_one_statement_cannot_store_goes_the_session_way(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with with_a_source(postgres_url) as (sessions, source):
        broken = await open_intake_pool(postgres_url)
        assert broken is not None
        await broken.close()  # every statement on it fails
        intake = SqlSignalIntake(sessions, broken)
        signal = make_signal(source.id, "id:session-way")
        assert await intake.store(signal, source, expiring_after=EARLIER) == (signal, False)
        assert await intake.store(signal, source, expiring_after=EARLIER) == (signal, False)
        again = make_signal(source.id, "id:session-way")
        assert await intake.store(again, source, expiring_after=EARLIER) == (signal, True)
        assert await stored_count(sessions) == 1
        assert "storing at once failed" in caplog.text


async def test_a_signal_stored_again_after_a_lost_answer_is_not_its_own_duplicate(
    world: World,
) -> None:
    intake, sessions, _ = world
    source = await intake.source_by_passphrase_hash(HASH)
    assert source is not None
    signal = make_signal(source.id, "id:retried")
    await intake.store(signal, source, expiring_after=EARLIER)

    stored, duplicate = await intake.store(signal, source, expiring_after=EARLIER) or (None, None)
    assert (stored, duplicate) == (signal, False)
    assert await stored_count(sessions) == 1


async def test_alerts_arriving_together_are_each_stored_once_and_answered_for_themselves(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    intake, sessions, _ = world
    source = await remembered(intake)
    alerts = [make_signal(source.id, f"id:together-{n}") for n in range(20)]
    repeated = make_signal(source.id, "id:together-3")  # the same alert, sent twice at once

    answers = await asyncio.gather(
        *(intake.store(signal, source, expiring_after=EARLIER) for signal in [*alerts, repeated])
    )

    others = [answer for n, answer in enumerate(answers[:20]) if n != 3]
    assert others == [(signal, False) for n, signal in enumerate(alerts) if n != 3]
    # Of the two sent at once, one is stored and the other answered as its duplicate.
    first, second = answers[3], answers[20]
    assert sorted([first, second], key=lambda answer: bool(answer and answer[1])) in (
        [(alerts[3], False), (alerts[3], True)],
        [(repeated, False), (repeated, True)],
    )
    assert await stored_count(sessions) == 20
    assert "storing at once failed" not in caplog.text  # stored together, not one by one


async def test_an_alert_its_source_no_longer_stands_for_stores_nothing_beside_others(
    world: World,
) -> None:
    intake, sessions, _ = world
    source = await remembered(intake)
    other = SignalSource(id=uuid.uuid4().hex, name="other", passphrase_hash="d" * 64)
    async with sessions() as session:
        await SqlSignalSourceRepository(session).add(other)
        await session.commit()
    other_remembered = await remembered(intake, other.passphrase_hash)
    await save_source(sessions, replace(other, active=False))
    kept = make_signal(source.id, "id:kept")

    answers = await asyncio.gather(
        intake.store(kept, source, expiring_after=EARLIER),
        intake.store(make_signal(other.id, "id:refused"), other_remembered, expiring_after=EARLIER),
    )

    assert answers == [(kept, False), None]
    assert await stored_count(sessions) == 1


async def test_an_alert_the_database_refuses_leaves_the_others_of_its_group_stored(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with with_a_source(postgres_url) as (sessions, source):  # SQLite takes any length
        at_once = await open_intake_pool(postgres_url)
        assert at_once is not None
        intake = SqlSignalIntake(sessions, at_once)
        good = [make_signal(source.id, f"id:beside-{n}") for n in range(3)]
        too_long = make_signal(source.id, "id:too-long")  # longer than its column: refused,
        too_long = replace(too_long, params=replace(too_long.params, symbol="X" * 40))  # not cut

        answers = await asyncio.gather(
            *(intake.store(signal, source, expiring_after=EARLIER) for signal in [*good, too_long]),
            return_exceptions=True,
        )
        await at_once.close()

        assert answers[:3] == [(signal, False) for signal in good]
        assert isinstance(answers[3], Exception)
        assert await stored_count(sessions) == 3
        assert "storing at once failed" in caplog.text  # the group failed: each went alone
