"""The SQL fidelity reader against the domain's formulas, on SQLite and Postgres: Postgres
computes the figures itself, so both must agree with domain.fidelity on the same copies."""

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.sqlalchemy.fidelity import SqlFidelityReader
from mimic.adapters.sqlalchemy.tables import order_intents, signal_sources, signals
from mimic.domain.fidelity import CopySample, copy_fidelity, stats_by_follower
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg, OrderSide

NOW = datetime.now(UTC).replace(microsecond=0)
FOLLOWERS = ["ann", "bob", "cid"]


@pytest.fixture
async def session(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


def source_row(source_id: str) -> dict[str, object]:
    return {"id": source_id, "name": source_id, "passphrase_hash": source_id * 8, "active": True}


async def seed(session: AsyncSession) -> list[CopySample]:
    """Signals of two sources over 40 days; returns the domain's samples of the last 7."""
    chance = random.Random(14)
    await session.execute(signal_sources.insert(), [source_row("src-a"), source_row("src-b")])
    expected: list[CopySample] = []
    for n in range(60):
        received = NOW - timedelta(days=40) + n * timedelta(hours=16)
        reference = None if n % 11 == 0 else Decimal(chance.choice(["65000", "3500.5", "0.12345"]))
        signal_id = f"sig{n:03d}"
        await session.execute(
            signals.insert().values(
                id=signal_id,
                source_id="src-a" if n % 3 else "src-b",
                symbol="BTCUSDT",
                action="long",
                dedupe_key=signal_id,
                received_at=received,
                status="done",
                reference_price=reference,
                reference_at=received,
            )
        )
        for follower in FOLLOWERS:
            status = chance.choice([IntentStatus.FILLED] * 4 + [IntentStatus.SKIPPED])
            base = reference or Decimal(100)
            intent = OrderIntent(
                id=f"{signal_id}-{follower}",
                signal_id=signal_id,
                account_id=f"acct-{follower}",
                user_id=follower,
                leg=OrderLeg.ENTRY,
                symbol="BTCUSDT",
                side=chance.choice([OrderSide.BUY, OrderSide.SELL]),
                quantity=Decimal(1),
                reduce_only=False,
                leverage=None,
                client_order_id=f"c-{signal_id}-{follower}",
                created_at=received,
                status=status,
                reason=None if status is IntentStatus.FILLED else "below min notional",
                average_price=(
                    base * (1 + Decimal(chance.randint(-300, 300)) / 100000)
                    if status is IntentStatus.FILLED
                    else None
                ),
                # Some fills from before acknowledgement times were kept.
                acknowledged_at=(
                    received + timedelta(microseconds=chance.randint(1000, 3_000_000))
                    if status is IntentStatus.FILLED and n % 7
                    else None
                ),
            )
            await session.execute(
                order_intents.insert().values(
                    id=intent.id,
                    signal_id=signal_id,
                    account_id=intent.account_id,
                    user_id=intent.user_id,
                    leg=intent.leg.value,
                    symbol=intent.symbol,
                    side=intent.side.value,
                    quantity=intent.quantity,
                    reduce_only=False,
                    client_order_id=intent.client_order_id,
                    status=intent.status.value,
                    reason=intent.reason,
                    average_price=intent.average_price,
                    created_at=received,
                    acknowledged_at=intent.acknowledged_at,
                )
            )
            copied = copy_fidelity(intent, received, reference)
            if copied is not None and received >= NOW - timedelta(days=7) and n % 3:
                expected.append(CopySample(follower, copied.latency_ms, copied.slippage_bps))
    await session.commit()
    return expected


async def test_the_database_computes_what_the_domain_computes(session: AsyncSession) -> None:
    samples = await seed(session)
    reader = SqlFidelityReader(session)

    stats = await reader.copy_stats_since(NOW - timedelta(days=7), source_id="src-a")

    expected = stats_by_follower(samples)
    assert expected.platform.copies > 10  # the period holds enough copies to compare
    assert stats.platform == expected.platform
    assert stats.followers == expected.followers


async def test_misses_are_counted_per_follower_and_reason(session: AsyncSession) -> None:
    await seed(session)
    reader = SqlFidelityReader(session)

    every = await reader.misses_since(NOW - timedelta(days=50), source_id=None)
    of_a = await reader.misses_since(NOW - timedelta(days=50), source_id="src-a")

    assert {m.user_id for m in every} <= set(FOLLOWERS)
    assert {(m.status, m.reason) for m in every} == {(IntentStatus.SKIPPED, "below min notional")}
    assert 0 < sum(m.count for m in of_a) < sum(m.count for m in every)
