"""save_results writes only what the worker still holds, on real SQLite and Postgres."""

from datetime import timedelta
from decimal import Decimal

import pytest

from mimic.adapters.sqlalchemy import bulk
from mimic.adapters.sqlalchemy.order_intents import SqlOrderIntentRepository
from mimic.domain.orders import IntentStatus, OrderFill, OrderSide
from tests.integration.adapters.sqlalchemy.test_repositories import (
    NOW,
    Sessions,
    make_intent,
    make_signal,
    new_id,
    sessions,
    store_signal,
)

__all__ = ["sessions"]  # the fixture, on both databases

LEASE = timedelta(seconds=60)


async def test_a_result_from_a_lease_taken_over_is_not_written(sessions: Sessions) -> None:
    signal = make_signal()
    await store_signal(sessions, signal)
    stale_pending, stale_filled, fresh = (make_intent(signal, new_id()) for _ in range(3))
    ids = [stale_pending.id, stale_filled.id, fresh.id]
    later = NOW + LEASE + timedelta(seconds=1)
    async with sessions() as session:
        repo = SqlOrderIntentRepository(session)
        await repo.add_new([stale_pending, stale_filled, fresh])
        first = await repo.claim(ids, now=NOW, lease_until=NOW + LEASE)
        # The first worker's lease runs out; another takes two of them over.
        second = await repo.claim(ids[:2], now=later, lease_until=later + LEASE)
        await session.commit()
        assert [i.attempts for i in first] == [1, 1, 1]
        assert [i.attempts for i in second] == [2, 2]

        # The first worker, late, reports: one to retry, two filled.
        first[0].retry_later("lease ran short before sending", later)
        for intent in first[1:]:
            fill = OrderFill(
                exchange_order_id="x-" + intent.id[:8],
                client_order_id=intent.client_order_id,
                symbol=intent.symbol,
                side=OrderSide.BUY,
                quantity=intent.quantity,
                average_price=Decimal(100),
                fee=Decimal("0.04"),
            )
            intent.record_fill(fill, later)
        await repo.save_results(first)
        await session.commit()
        stored = {i.id: i for i in await repo.list_for_signal(signal.id)}

    # Taken over: left as the second worker holds them (not claimable before its lease ends).
    assert [(stored[i].status, stored[i].attempts) for i in ids[:2]] == [
        (IntentStatus.SUBMITTING, 2),
        (IntentStatus.SUBMITTING, 2),
    ]
    assert stored[fresh.id].status is IntentStatus.FILLED
    async with sessions() as session:
        repo = SqlOrderIntentRepository(session)
        assert await repo.claim(ids, now=later, lease_until=later + LEASE) == []


async def test_intents_stored_and_saved_over_several_statements(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More rows than one statement takes: every chunk is written, each row its own values."""
    monkeypatch.setattr(bulk, "BULK_ROWS", 4)
    signal = make_signal()
    await store_signal(sessions, signal)
    intents = [make_intent(signal, new_id()) for _ in range(10)]
    for number, intent in enumerate(intents):
        intent.quantity = Decimal(number + 1)
        intent.hold_for_sending(NOW)
    async with sessions() as session:
        repo = SqlOrderIntentRepository(session)
        assert await repo.add_new(intents, lease_until=NOW + LEASE) == {i.id for i in intents}
        for number, intent in enumerate(intents[:7]):
            intent.record_fill(
                OrderFill(
                    exchange_order_id=f"x-{number}",
                    client_order_id=intent.client_order_id,
                    symbol=intent.symbol,
                    side=OrderSide.BUY,
                    quantity=intent.quantity,
                    average_price=Decimal(100 + number),
                    fee=Decimal("0.04"),
                ),
                NOW,
            )
        intents[7].retry_later("rate limited", NOW)
        await repo.save_results(intents)
        await session.commit()
        stored = {i.id: i for i in await repo.list_for_signal(signal.id)}
    assert [stored[i.id].quantity for i in intents] == [Decimal(n) for n in range(1, 11)]
    assert [stored[i.id].average_price for i in intents[:7]] == [Decimal(100 + n) for n in range(7)]
    assert [stored[i.id].status for i in intents] == [IntentStatus.FILLED] * 7 + [
        IntentStatus.PENDING,
        IntentStatus.SUBMITTING,
        IntentStatus.SUBMITTING,
    ]
    assert [stored[i.id].exchange_order_id for i in intents[:8]] == [
        *(f"x-{n}" for n in range(7)),
        None,
    ]
