"""The payment repositories on real SQLite and Postgres, including racing sessions."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.sqlalchemy.migrations import upgrade
from mimic.adapters.sqlalchemy.payments import (
    SqlInvoiceRepository,
    SqlPaymentSettingsRepository,
    SqlPlanRepository,
    SqlReferralRepository,
    SqlSubscriptionRepository,
)
from mimic.adapters.sqlalchemy.users import SqlUserRepository
from mimic.application.activate_subscription import extend_for
from mimic.domain.accounts import Role, User
from mimic.domain.errors import Conflict
from mimic.domain.payments import (
    Invoice,
    InvoiceStatus,
    PaymentSettings,
    Plan,
    ReferralCommission,
    Subscription,
    new_payout,
    statuses_that_may_become,
)

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
D = Decimal


def new_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def seed(sessions: Sessions) -> tuple[User, User, Plan, Invoice]:
    """A referrer, a buyer referred by them, a plan and the buyer's invoice."""
    users = []
    async with sessions() as session:
        for name, referred_by in (("rita", None), ("alice", "rita")):
            user = User(
                id=f"id-{name}",
                username=name,
                email=f"{name}@example.com",
                password_hash="x",
                role=Role.USER,
                created_at=NOW,
                referral_code=name.upper(),
                referred_by=None if referred_by is None else f"id-{referred_by}",
            )
            await SqlUserRepository(session).add(user)
            users.append(user)
        plan = Plan(new_id(), "Pro", D("79.00"), 30, 3, ("a", "b"))
        await SqlPlanRepository(session).add(plan)
        invoice = Invoice(
            id=new_id(),
            user_id=users[1].id,
            plan_id=plan.id,
            plan_name=plan.name,
            amount_usd=plan.price_usd,
            duration_days=30,
            currency="BTC",
            created_at=NOW,
            provider_txn_id="txn-1",
            invoice_url="https://plisio.net/invoice/txn-1",
        )
        await SqlInvoiceRepository(session).add(invoice)
        await session.commit()
    return users[0], users[1], plan, invoice


async def test_plans_round_trip_and_names_are_unique_in_any_case(sessions: Sessions) -> None:
    _, _, plan, _ = await seed(sessions)
    async with sessions() as session:
        plans = SqlPlanRepository(session)
        assert await plans.get(plan.id) == plan
        assert await plans.get_by_name(" pRO ") == plan
        with pytest.raises(Conflict):
            await plans.add(Plan(new_id(), "PRO", D(1), 1, 1))
        plan.active = False
        await plans.save(plan)
        await session.commit()
        assert await plans.list() == []
        assert await plans.list(include_inactive=True) == [plan]


async def test_exactly_one_of_two_racing_sessions_completes_an_invoice(
    sessions: Sessions,
) -> None:
    _, _, _, invoice = await seed(sessions)

    async def complete() -> bool:
        async with sessions() as session:
            won = await SqlInvoiceRepository(session).transition(
                invoice.id,
                to=InvoiceStatus.COMPLETED,
                allowed_from=statuses_that_may_become(InvoiceStatus.COMPLETED),
                now=NOW,
            )
            await asyncio.sleep(0.05)  # hold the row while the other one tries
            await session.commit()
            return won

    assert sorted(await asyncio.gather(complete(), complete())) == [False, True]
    async with sessions() as session:
        stored = await SqlInvoiceRepository(session).get(invoice.id)
        assert stored is not None
        assert (stored.status, stored.completed_at) == (InvoiceStatus.COMPLETED, NOW)
        again = await SqlInvoiceRepository(session).transition(
            invoice.id,
            to=InvoiceStatus.EXPIRED,
            allowed_from=statuses_that_may_become(InvoiceStatus.EXPIRED),
            now=NOW,
        )
        assert again is False


async def test_one_commission_per_invoice_and_payouts_mark_it_once(sessions: Sessions) -> None:
    rita, alice, _, invoice = await seed(sessions)

    def commission() -> ReferralCommission:
        return ReferralCommission(new_id(), rita.id, alice.id, invoice.id, D("7.9"), D(10), NOW)

    async with sessions() as session:
        referrals = SqlReferralRepository(session)
        assert await referrals.add_commission(commission()) is True
        assert await referrals.add_commission(commission()) is False
        await session.commit()
        [stored] = await referrals.unpaid_of(rita.id)
        assert stored.amount_usd == D("7.9")
        assert [u.username for u in await referrals.referred_users(rita.id)] == ["alice"]
    async with sessions() as session:
        referrals = SqlReferralRepository(session)
        payout = new_payout(
            payout_id=new_id(), referrer_id=rita.id, unpaid=[stored], now=NOW, by=rita.id
        )
        assert await referrals.add_payout(payout) is True
        await session.commit()
        assert await referrals.unpaid_of(rita.id) == []
        [paid] = await referrals.commissions_of(rita.id)
        assert paid.payout_id == payout.id
    async with sessions() as session:
        twice = new_payout(
            payout_id=new_id(), referrer_id=rita.id, unpaid=[stored], now=NOW, by="x"
        )
        assert await SqlReferralRepository(session).add_payout(twice) is False
        await session.rollback()


async def test_subscriptions_notice_marks_and_bulk_activity(sessions: Sessions) -> None:
    rita, alice, plan, _ = await seed(sessions)
    expires = NOW + timedelta(days=2)
    async with sessions() as session:
        subscriptions = SqlSubscriptionRepository(session)
        await subscriptions.put(Subscription(alice.id, plan.id, plan.name, NOW, expires))
        await session.commit()
        # Many ids in one call: chunked below the drivers' parameter limits.
        asked = [alice.id, rita.id, *(new_id() for _ in range(1200))]
        assert await subscriptions.active_among(asked, NOW) == {alice.id}
        assert await subscriptions.active_among(asked, expires) == set()
        [due] = await subscriptions.due_for_notice(NOW, NOW + timedelta(days=3))
        assert due.expires_at == expires
        assert await subscriptions.mark_notice(alice.id, expires_at=expires, expired=False)
        assert not await subscriptions.mark_notice(alice.id, expires_at=expires, expired=False)
        moved = NOW + timedelta(days=40)
        assert not await subscriptions.mark_notice(alice.id, expires_at=moved, expired=True)
        await subscriptions.put(Subscription(alice.id, plan.id, plan.name, NOW, moved))
        await session.commit()
        assert await subscriptions.due_for_notice(NOW, NOW + timedelta(days=3)) == []
        stored = await subscriptions.get(alice.id, for_update=True)
        assert stored is not None
        assert (stored.expires_at, stored.expiring_notice_for) == (moved, None)


async def test_payment_settings_start_from_the_defaults_then_persist(sessions: Sessions) -> None:
    defaults = PaymentSettings(referral_commission_perc=D(15), require_subscription=True)
    async with sessions() as session:
        repository = SqlPaymentSettingsRepository(session, defaults)
        assert await repository.get_payment_settings() == defaults
        changed = PaymentSettings(referral_commission_perc=D("12.5"), require_subscription=False)
        await repository.save_payment_settings(changed)
        await session.commit()
    async with sessions() as session:
        stored = await SqlPaymentSettingsRepository(session, defaults).get_payment_settings()
        assert stored == changed


async def test_two_payments_completing_at_once_both_extend(sessions: Sessions) -> None:
    _, alice, plan, first = await seed(sessions)
    second = replace(first, id=new_id(), provider_txn_id="txn-2")
    async with sessions() as session:
        await SqlInvoiceRepository(session).add(second)
        await session.commit()

    async def pay(invoice: Invoice) -> None:
        # As the callback does it: complete the invoice, then extend, in one transaction.
        async with sessions() as session:
            assert await SqlInvoiceRepository(session).transition(
                invoice.id,
                to=InvoiceStatus.COMPLETED,
                allowed_from=statuses_that_may_become(InvoiceStatus.COMPLETED),
                now=NOW,
            )
            await extend_for(
                SqlSubscriptionRepository(session),
                user_id=alice.id,
                plan_id=plan.id,
                plan_name=plan.name,
                days=30,
                now=NOW,
            )
            await asyncio.sleep(0.05)  # the other payment arrives meanwhile
            await session.commit()

    await asyncio.gather(pay(first), pay(second))
    async with sessions() as session:
        stored = await SqlSubscriptionRepository(session).get(alice.id)
        assert stored is not None
        assert stored.expires_at == NOW + timedelta(days=60)
