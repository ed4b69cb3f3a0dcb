"""The PlanRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from decimal import Decimal

import pytest

from mimic.domain.errors import Conflict
from mimic.domain.payments import Plan
from tests.integration.ports.payments.seed import open_shop
from tests.integration.ports.rows import new_id
from tests.integration.ports.stores import Store


async def test_plans_round_trip_and_names_are_unique_in_any_case(store: Store) -> None:
    plan = (await open_shop(store)).plan
    async with store.unit() as repos:
        assert await repos.plans.get(plan.id) == plan
        assert await repos.plans.get_by_name(" pRO ") == plan
        assert await repos.plans.count() == 1
    async with store.unit() as repos:
        with pytest.raises(Conflict):
            await repos.plans.add(Plan(new_id(), "PRO", Decimal(1), 1, 1))
    plan.active = False
    async with store.unit() as repos:
        await repos.plans.save(plan)
    async with store.unit() as repos:
        assert await repos.plans.list() == []
        assert await repos.plans.list(include_inactive=True) == [plan]
