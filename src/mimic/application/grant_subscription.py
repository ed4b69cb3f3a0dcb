"""An admin grants or extends a user's subscription by hand (audited)."""

import uuid
from dataclasses import dataclass
from types import MappingProxyType

from mimic.application.activate_subscription import extend_for
from mimic.application.plans import resolve_plan
from mimic.domain.audit import AuditEvent
from mimic.domain.errors import InvalidField, NotFound
from mimic.domain.payments import MAX_GRANT_DAYS, Subscription
from mimic.ports.payments import PlanRepository, SubscriptionRepository
from mimic.ports.repositories import AuditLog, TransactionManager, UserRepository
from mimic.ports.services import Clock


@dataclass(frozen=True, slots=True)
class GrantSubscriptionCommand:
    admin_id: str
    user_id: str
    days: int
    plan: str | None = None  # id or name; default: the user's current plan
    ip: str | None = None


class GrantSubscription:
    def __init__(
        self,
        users: UserRepository,
        plans: PlanRepository,
        subscriptions: SubscriptionRepository,
        audit: AuditLog,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._users = users
        self._plans = plans
        self._subscriptions = subscriptions
        self._audit = audit
        self._tx = tx
        self._clock = clock

    async def check(self, command: GrantSubscriptionCommand) -> None:
        """Raises what `__call__` would for bad input, writing nothing.

        Lets a caller that changes more than the subscription refuse the whole request.
        """
        await self._plan_of(command)

    async def __call__(self, command: GrantSubscriptionCommand) -> Subscription:
        plan_id, plan_name = await self._plan_of(command)
        now = self._clock.now()
        subscription = await extend_for(
            self._subscriptions,
            user_id=command.user_id,
            plan_id=plan_id,
            plan_name=plan_name,
            days=command.days,
            now=now,
        )
        await self._audit.record(
            AuditEvent(
                id=uuid.uuid4().hex,
                at=now,
                action="subscription.granted",
                actor_id=command.admin_id,
                target=f"user:{command.user_id}",
                ip=command.ip,
                details=MappingProxyType(
                    {
                        "plan": plan_name,
                        "days": str(command.days),
                        "expires_at": subscription.expires_at.isoformat(),
                    }
                ),
            )
        )
        await self._tx.commit()
        return subscription

    async def _plan_of(self, command: GrantSubscriptionCommand) -> tuple[str | None, str]:
        if not 1 <= command.days <= MAX_GRANT_DAYS:
            raise InvalidField("days", f"must be a whole number from 1 to {MAX_GRANT_DAYS}")
        if await self._users.get(command.user_id) is None:
            raise NotFound(f"user {command.user_id} not found")
        if command.plan is not None:
            plan = await resolve_plan(self._plans, command.plan.strip())
            if plan is None:
                raise InvalidField("plan", "is not a known plan id or name")
            return plan.id, plan.name
        current = await self._subscriptions.get(command.user_id)
        if current is None:
            raise InvalidField("plan", "is needed for a user who never had a subscription")
        return current.plan_id, current.plan_name
