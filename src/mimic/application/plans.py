"""Subscription plans: the public price list and the admin's changes to it."""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from mimic.domain.errors import NotFound
from mimic.domain.payments import DEFAULT_PLANS, Plan
from mimic.ports.payments import PlanRepository
from mimic.ports.repositories import TransactionManager


@dataclass(frozen=True, slots=True)
class PlanSpec:
    name: str
    price_usd: Decimal
    duration_days: int
    max_exchange_connections: int
    features: tuple[str, ...] = ()
    active: bool = True
    sort_order: int = 0


class ManagePlans:
    def __init__(self, plans: PlanRepository, tx: TransactionManager) -> None:
        self._plans = plans
        self._tx = tx

    async def list(self, *, include_inactive: bool = False) -> list[Plan]:
        return await self._plans.list(include_inactive=include_inactive)

    async def create(self, spec: PlanSpec) -> Plan:
        plan = _plan(uuid.uuid4().hex, spec)
        await self._plans.add(plan)
        await self._tx.commit()
        return plan

    async def replace(self, plan_id: str, spec: PlanSpec) -> Plan:
        await self._get(plan_id)
        plan = _plan(plan_id, spec)
        await self._plans.save(plan)
        await self._tx.commit()
        return plan

    async def retire(self, plan_id: str) -> Plan:
        """Hidden from sale; invoices and subscriptions that name it keep working."""
        plan = await self._get(plan_id)
        plan.active = False
        await self._plans.save(plan)
        await self._tx.commit()
        return plan

    async def _get(self, plan_id: str) -> Plan:
        plan = await self._plans.get(plan_id)
        if plan is None:
            raise NotFound(f"plan {plan_id} does not exist")
        return plan


def _plan(plan_id: str, spec: PlanSpec) -> Plan:
    return Plan(
        id=plan_id,
        name=spec.name,
        price_usd=spec.price_usd,
        duration_days=spec.duration_days,
        max_exchange_connections=spec.max_exchange_connections,
        features=spec.features,
        active=spec.active,
        sort_order=spec.sort_order,
    )


async def seed_default_plans(plans: PlanRepository) -> bool:
    """On first start only: an admin who deletes or renames them later keeps that choice."""
    if await plans.count() > 0:
        return False
    for order, (name, price, days, connections, features) in enumerate(DEFAULT_PLANS):
        await plans.add(
            Plan(
                id=uuid.uuid4().hex,
                name=name,
                price_usd=price,
                duration_days=days,
                max_exchange_connections=connections,
                features=features,
                sort_order=order,
            )
        )
    return True


async def resolve_plan(plans: PlanRepository, ref: str) -> Plan | None:
    """A plan by its id, or else by its name (case-insensitive)."""
    return await plans.get(ref) or await plans.get_by_name(ref)
