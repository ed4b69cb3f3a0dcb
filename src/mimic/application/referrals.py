"""Referral commissions: what a referrer sees, and the admin's payouts."""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from mimic.domain.accounts import User
from mimic.domain.audit import AuditEvent
from mimic.domain.errors import Conflict, NotFound
from mimic.domain.payments import Payout, ReferralCommission, new_payout
from mimic.ports.payments import ReferralRepository
from mimic.ports.repositories import AuditLog, TransactionManager, UserRepository
from mimic.ports.services import Clock


@dataclass(frozen=True, slots=True)
class ReferralSummary:
    referrer: User
    referred: list[User]
    commissions: list[ReferralCommission] = field(default_factory=list)

    @property
    def earned_usd(self) -> Decimal:
        return sum((c.amount_usd for c in self.commissions), Decimal(0))

    @property
    def unpaid_usd(self) -> Decimal:
        unpaid = (c.amount_usd for c in self.commissions if c.payout_id is None)
        return sum(unpaid, Decimal(0))


class ViewReferrals:
    def __init__(self, referrals: ReferralRepository, users: UserRepository) -> None:
        self._referrals = referrals
        self._users = users

    async def mine(self, user: User) -> ReferralSummary:
        return ReferralSummary(
            referrer=user,
            referred=await self._referrals.referred_users(user.id),
            commissions=await self._referrals.commissions_of(user.id),
        )

    async def all_referrers(self) -> list[ReferralSummary]:
        """Every referrer with a commission, for the admin."""
        by_referrer: dict[str, list[ReferralCommission]] = defaultdict(list)
        for commission in await self._referrals.all_commissions():
            by_referrer[commission.referrer_id].append(commission)
        summaries = []
        for referrer_id, commissions in by_referrer.items():
            referrer = await self._users.get(referrer_id)
            if referrer is not None:
                referred = await self._referrals.referred_users(referrer_id)
                summaries.append(ReferralSummary(referrer, referred, commissions))
        return sorted(summaries, key=lambda s: s.referrer.username)


class PayOutCommissions:
    """The admin paid a referrer (outside Mimic) and marks their unpaid commissions paid."""

    def __init__(
        self,
        referrals: ReferralRepository,
        users: UserRepository,
        audit: AuditLog,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._referrals = referrals
        self._users = users
        self._audit = audit
        self._tx = tx
        self._clock = clock

    async def __call__(self, admin_id: str, referrer_id: str, ip: str | None = None) -> Payout:
        if await self._users.get(referrer_id) is None:
            raise NotFound(f"user {referrer_id} not found")
        now = self._clock.now()
        payout = new_payout(
            payout_id=uuid.uuid4().hex,
            referrer_id=referrer_id,
            unpaid=await self._referrals.unpaid_of(referrer_id),
            now=now,
            by=admin_id,
        )
        if not await self._referrals.add_payout(payout):
            await self._tx.rollback()
            raise Conflict("these commissions were paid out meanwhile; reload and retry")
        await self._audit.record(
            AuditEvent(
                id=uuid.uuid4().hex,
                at=now,
                action="referral.payout",
                actor_id=admin_id,
                target=f"user:{referrer_id}",
                ip=ip,
                details=MappingProxyType(
                    {
                        "amount_usd": str(payout.amount_usd),
                        "commissions": str(len(payout.commission_ids)),
                    }
                ),
            )
        )
        await self._tx.commit()
        return payout
