"""The GuardrailRepository contract (its days and trips), on the fake and on SQL."""

from decimal import Decimal

from mimic.domain.guardrails import GuardrailDay, Trip, TripKind
from tests.integration.ports.rows import NOW, TINY
from tests.integration.ports.stores import Store

TODAY = NOW.date()


async def test_the_first_observation_of_a_day_stays_and_a_day_trips_once(store: Store) -> None:
    first = GuardrailDay("a1", TODAY, Decimal(1000))
    async with store.unit() as repos:
        await repos.guardrails.start_days(
            [("ann", first), ("bob", GuardrailDay("b1", TODAY, TINY))]
        )
    async with store.unit() as repos:
        await repos.guardrails.start_days([("ann", GuardrailDay("a1", TODAY, Decimal(5)))])
    async with store.unit() as repos:
        days = await repos.guardrails.days(["a1", "b1", "none"], TODAY)
    assert days == {"a1": first, "b1": GuardrailDay("b1", TODAY, TINY)}

    tripped = GuardrailDay(
        "a1", TODAY, Decimal(1000), Trip(TripKind.DRAWDOWN_STOP, "down 5 %", NOW)
    )
    async with store.unit() as repos:
        assert await repos.guardrails.record_trip("ann", tripped, close_all=True) is True
        assert await repos.guardrails.record_trip("ann", tripped, close_all=True) is False
    async with store.unit() as repos:
        assert (await repos.guardrails.days(["a1"], TODAY))["a1"] == tripped
        assert await repos.guardrails.pending_close_all() == [("ann", tripped)]
