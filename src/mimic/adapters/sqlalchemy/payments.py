"""Payment repositories on SQLAlchemy Core.

What must happen once (an invoice's completion, a commission per invoice, a notice per
expiry, a payout per commission) is decided by a compare-and-set UPDATE or a unique
constraint, never by a prior read.
"""

import builtins
import json
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.statements import _insert
from mimic.adapters.sqlalchemy.tables import (
    invoices,
    payouts,
    plans,
    platform_settings,
    referral_commissions,
    subscriptions,
    users,
)
from mimic.adapters.sqlalchemy.users import _user
from mimic.domain.accounts import User
from mimic.domain.errors import Conflict
from mimic.domain.payments import (
    Invoice,
    InvoiceStatus,
    PaymentSettings,
    Payout,
    Plan,
    ReferralCommission,
    Subscription,
)
from mimic.ports.payments import (
    InvoiceRepository,
    PaymentSettingsRepository,
    PlanRepository,
    ReferralRepository,
    SubscriptionRepository,
)


def _plan_values(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "name": plan.name,
        "name_key": plan.name.lower(),
        "price_usd": plan.price_usd,
        "duration_days": plan.duration_days,
        "max_exchange_connections": plan.max_exchange_connections,
        "features": json.dumps(list(plan.features)),
        "active": plan.active,
        "sort_order": plan.sort_order,
    }


def _plan(row: RowMapping) -> Plan:
    c = plans.c
    return Plan(
        id=row[c.id],
        name=row[c.name],
        price_usd=row[c.price_usd],
        duration_days=row[c.duration_days],
        max_exchange_connections=row[c.max_exchange_connections],
        features=tuple(json.loads(row[c.features])),
        active=row[c.active],
        sort_order=row[c.sort_order],
    )


class SqlPlanRepository(PlanRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, plan: Plan) -> None:
        await self._write(plan, plans.insert().values(_plan_values(plan)))

    async def save(self, plan: Plan) -> None:
        values = _plan_values(plan)
        del values["id"]
        await self._write(plan, update(plans).where(plans.c.id == plan.id).values(values))

    async def _write(self, plan: Plan, statement: Any) -> None:
        taken = await self._session.execute(
            select(plans.c.id).where(plans.c.name_key == plan.name.lower(), plans.c.id != plan.id)
        )
        if taken.first() is not None:
            raise Conflict(f"a plan named {plan.name!r} exists already")
        try:
            await self._session.execute(statement)
        except IntegrityError:
            await self._session.rollback()
            raise Conflict(f"a plan named {plan.name!r} exists already") from None

    async def get(self, plan_id: str) -> Plan | None:
        return await self._one(plans.c.id == plan_id)

    async def get_by_name(self, name: str) -> Plan | None:
        return await self._one(plans.c.name_key == name.strip().lower())

    async def _one(self, condition: Any) -> Plan | None:
        row = (await self._session.execute(select(plans).where(condition))).mappings().first()
        return None if row is None else _plan(row)

    async def list(self, *, include_inactive: bool = False) -> list[Plan]:
        query = select(plans).order_by(plans.c.sort_order, plans.c.price_usd, plans.c.name_key)
        if not include_inactive:
            query = query.where(plans.c.active.is_(True))
        return [_plan(row) for row in (await self._session.execute(query)).mappings()]

    async def count(self) -> int:
        statement = select(func.count()).select_from(plans)
        return int((await self._session.execute(statement)).scalar_one())


def _invoice_values(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "user_id": invoice.user_id,
        "plan_id": invoice.plan_id,
        "plan_name": invoice.plan_name,
        "amount_usd": invoice.amount_usd,
        "duration_days": invoice.duration_days,
        "currency": invoice.currency,
        "status": invoice.status.value,
        "provider_txn_id": invoice.provider_txn_id,
        "invoice_url": invoice.invoice_url,
        "created_at": invoice.created_at,
        "updated_at": invoice.updated_at,
        "completed_at": invoice.completed_at,
    }


def _invoice(row: RowMapping) -> Invoice:
    c = invoices.c
    return Invoice(
        id=row[c.id],
        user_id=row[c.user_id],
        plan_id=row[c.plan_id],
        plan_name=row[c.plan_name],
        amount_usd=row[c.amount_usd],
        duration_days=row[c.duration_days],
        currency=row[c.currency],
        created_at=row[c.created_at],
        status=InvoiceStatus(row[c.status]),
        provider_txn_id=row[c.provider_txn_id],
        invoice_url=row[c.invoice_url],
        updated_at=row[c.updated_at],
        completed_at=row[c.completed_at],
    )


class SqlInvoiceRepository(InvoiceRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, invoice: Invoice) -> None:
        await self._session.execute(invoices.insert().values(_invoice_values(invoice)))

    async def get(self, invoice_id: str) -> Invoice | None:
        query = select(invoices).where(invoices.c.id == invoice_id)
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else _invoice(row)

    async def list_for_user(self, user_id: str, *, limit: int = 100) -> list[Invoice]:
        query = (
            select(invoices)
            .where(invoices.c.user_id == user_id)
            .order_by(invoices.c.created_at.desc(), invoices.c.id)
            .limit(limit)
        )
        return [_invoice(row) for row in (await self._session.execute(query)).mappings()]

    async def transition(
        self,
        invoice_id: str,
        *,
        to: InvoiceStatus,
        allowed_from: Collection[InvoiceStatus],
        now: datetime,
    ) -> bool:
        values: dict[str, Any] = {"status": to.value, "updated_at": now}
        if to is InvoiceStatus.COMPLETED:
            values["completed_at"] = now
        result = await self._session.execute(
            update(invoices)
            .where(
                invoices.c.id == invoice_id,
                invoices.c.status.in_([s.value for s in allowed_from]),
            )
            .values(values)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


def _subscription_values(subscription: Subscription) -> dict[str, Any]:
    return {
        "user_id": subscription.user_id,
        "plan_id": subscription.plan_id,
        "plan_name": subscription.plan_name,
        "started_at": subscription.started_at,
        "expires_at": subscription.expires_at,
        "expiring_notice_for": subscription.expiring_notice_for,
        "expired_notice_for": subscription.expired_notice_for,
    }


def _subscription(row: RowMapping) -> Subscription:
    c = subscriptions.c
    return Subscription(
        user_id=row[c.user_id],
        plan_id=row[c.plan_id],
        plan_name=row[c.plan_name],
        started_at=row[c.started_at],
        expires_at=row[c.expires_at],
        expiring_notice_for=row[c.expiring_notice_for],
        expired_notice_for=row[c.expired_notice_for],
    )


class SqlSubscriptionRepository(SubscriptionRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: str, *, for_update: bool = False) -> Subscription | None:
        if for_update:
            # The user's row, not the subscription's: a first subscription has no row to
            # lock yet, and two payments at once must still add up. (Postgres; SQLite
            # serialises writers, and callers write before they read this.)
            await self._session.execute(
                select(users.c.id).where(users.c.id == user_id).with_for_update()
            )
        query = select(subscriptions).where(subscriptions.c.user_id == user_id)
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else _subscription(row)

    async def put(self, subscription: Subscription) -> None:
        values = _subscription_values(subscription)
        insert = _insert(self._session, subscriptions).values(values)
        changes = {k: v for k, v in values.items() if k != "user_id"}
        await self._session.execute(
            insert.on_conflict_do_update(index_elements=[subscriptions.c.user_id], set_=changes)
        )

    async def active_among(self, user_ids: Collection[str], now: datetime) -> set[str]:
        if not user_ids:
            return set()
        c = subscriptions.c
        wanted = list(user_ids)
        found: set[str] = set()
        # Chunked: bound parameters stay below the drivers' limits for big fan-outs.
        for start in range(0, len(wanted), 500):
            query = select(c.user_id).where(
                c.user_id.in_(wanted[start : start + 500]), c.expires_at > now
            )
            found.update((await self._session.execute(query)).scalars())
        return found

    async def due_for_notice(
        self, now: datetime, notice_window_end: datetime
    ) -> list[Subscription]:
        c = subscriptions.c
        query = (
            select(subscriptions)
            .where(
                c.expires_at <= notice_window_end,
                or_(
                    c.expiring_notice_for.is_(None),
                    c.expiring_notice_for != c.expires_at,
                    c.expired_notice_for.is_(None),
                    c.expired_notice_for != c.expires_at,
                ),
            )
            .order_by(c.expires_at)
        )
        return [_subscription(r) for r in (await self._session.execute(query)).mappings()]

    async def mark_notice(self, user_id: str, *, expires_at: datetime, expired: bool) -> bool:
        c = subscriptions.c
        column = c.expired_notice_for if expired else c.expiring_notice_for
        result = await self._session.execute(
            update(subscriptions)
            .where(
                c.user_id == user_id,
                c.expires_at == expires_at,
                or_(column.is_(None), column != expires_at),
            )
            .values({column.name: expires_at})
        )
        return bool(getattr(result, "rowcount", 0) == 1)


def _commission(row: RowMapping) -> ReferralCommission:
    c = referral_commissions.c
    return ReferralCommission(
        id=row[c.id],
        referrer_id=row[c.referrer_id],
        referred_user_id=row[c.referred_user_id],
        invoice_id=row[c.invoice_id],
        amount_usd=row[c.amount_usd],
        perc=row[c.perc],
        created_at=row[c.created_at],
        payout_id=row[c.payout_id],
    )


class SqlReferralRepository(ReferralRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_commission(self, commission: ReferralCommission) -> bool:
        insert = _insert(self._session, referral_commissions).values(
            id=commission.id,
            referrer_id=commission.referrer_id,
            referred_user_id=commission.referred_user_id,
            invoice_id=commission.invoice_id,
            amount_usd=commission.amount_usd,
            perc=commission.perc,
            created_at=commission.created_at,
            payout_id=commission.payout_id,
        )
        result = await self._session.execute(
            insert.on_conflict_do_nothing(index_elements=[referral_commissions.c.invoice_id])
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def _commissions(self, *conditions: Any) -> builtins.list[ReferralCommission]:
        c = referral_commissions.c
        query = select(referral_commissions).where(*conditions).order_by(c.created_at, c.id)
        return [_commission(r) for r in (await self._session.execute(query)).mappings()]

    async def commissions_of(self, referrer_id: str) -> builtins.list[ReferralCommission]:
        return await self._commissions(referral_commissions.c.referrer_id == referrer_id)

    async def all_commissions(self) -> builtins.list[ReferralCommission]:
        return await self._commissions()

    async def unpaid_of(self, referrer_id: str) -> builtins.list[ReferralCommission]:
        c = referral_commissions.c
        return await self._commissions(c.referrer_id == referrer_id, c.payout_id.is_(None))

    async def referred_users(self, referrer_id: str) -> builtins.list[User]:
        query = select(users).where(users.c.referred_by == referrer_id).order_by(users.c.created_at)
        return [_user(row) for row in (await self._session.execute(query)).mappings()]

    async def add_payout(self, payout: Payout) -> bool:
        await self._session.execute(
            payouts.insert().values(
                id=payout.id,
                referrer_id=payout.referrer_id,
                amount_usd=payout.amount_usd,
                paid_at=payout.paid_at,
                paid_by=payout.paid_by,
            )
        )
        c = referral_commissions.c
        result = await self._session.execute(
            update(referral_commissions)
            .where(
                and_(
                    c.id.in_(payout.commission_ids),
                    c.referrer_id == payout.referrer_id,
                    c.payout_id.is_(None),
                )
            )
            .values(payout_id=payout.id)
        )
        return bool(getattr(result, "rowcount", 0) == len(payout.commission_ids))


PAYMENTS_KEY = "payments"


class SqlPaymentSettingsRepository(PaymentSettingsRepository):
    """Stored next to the platform risk settings; `defaults` apply until the admin saves."""

    def __init__(self, session: AsyncSession, defaults: PaymentSettings) -> None:
        self._session = session
        self._defaults = defaults

    async def get_payment_settings(self) -> PaymentSettings:
        raw = (
            await self._session.execute(
                select(platform_settings.c.value).where(platform_settings.c.key == PAYMENTS_KEY)
            )
        ).scalar_one_or_none()
        if raw is None:
            return self._defaults
        data = json.loads(raw)
        return PaymentSettings(
            referral_commission_perc=Decimal(data["referral_commission_perc"]),
            require_subscription=bool(data["require_subscription"]),
        )

    async def save_payment_settings(self, settings: PaymentSettings) -> None:
        value = json.dumps(
            {
                "referral_commission_perc": str(settings.referral_commission_perc),
                "require_subscription": settings.require_subscription,
            }
        )
        insert = _insert(self._session, platform_settings).values(key=PAYMENTS_KEY, value=value)
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[platform_settings.c.key], set_={"value": insert.excluded.value}
            )
        )
