"""The payment repositories under racing sessions, on real SQLite and Postgres.

Their behaviour one call at a time is the contract suites' (tests/integration/ports/payments/),
which run it on the fakes too.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.sqlalchemy.migrations import upgrade
from mimic.adapters.sqlalchemy.payments import (
    SqlInvoiceRepository,
    SqlSubscriptionRepository,
)
from mimic.application.activate_subscription import extend_for
from mimic.domain.payments import (
    Invoice,
    InvoiceStatus,
    statuses_that_may_become,
)
from tests.integration.ports.payments.seed import open_shop
from tests.integration.ports.rows import NOW, new_id
from tests.integration.ports.stores import SqlStore

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def test_exactly_one_of_two_racing_sessions_completes_an_invoice(
    sessions: Sessions,
) -> None:
    invoice = (await open_shop(SqlStore("sql", sessions))).invoice

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


async def test_two_payments_completing_at_once_both_extend(sessions: Sessions) -> None:
    shop = await open_shop(SqlStore("sql", sessions))
    alice, plan, first = shop.buyer, shop.plan, shop.invoice
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
