"""The InvoiceRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from dataclasses import replace
from datetime import timedelta

from mimic.domain.payments import InvoiceStatus, statuses_that_may_become
from tests.integration.ports.payments.seed import open_shop
from tests.integration.ports.rows import NOW, new_id
from tests.integration.ports.stores import Store


async def test_an_invoice_moves_only_from_the_statuses_allowed(store: Store) -> None:
    invoice = (await open_shop(store)).invoice
    completed = statuses_that_may_become(InvoiceStatus.COMPLETED)
    async with store.unit() as repos:
        assert await repos.invoices.transition(
            invoice.id, to=InvoiceStatus.COMPLETED, allowed_from=completed, now=NOW
        )
    async with store.unit() as repos:
        assert not await repos.invoices.transition(
            invoice.id, to=InvoiceStatus.COMPLETED, allowed_from=completed, now=NOW
        )
        assert not await repos.invoices.transition(
            invoice.id,
            to=InvoiceStatus.EXPIRED,
            allowed_from=statuses_that_may_become(InvoiceStatus.EXPIRED),
            now=NOW,
        )
        assert not await repos.invoices.transition(
            "missing", to=InvoiceStatus.COMPLETED, allowed_from=completed, now=NOW
        )
    async with store.unit() as repos:
        stored = await repos.invoices.get(invoice.id)
    assert stored is not None
    assert (stored.status, stored.completed_at) == (InvoiceStatus.COMPLETED, NOW)


async def test_a_users_invoices_newest_first(store: Store) -> None:
    shop = await open_shop(store)
    later = replace(
        shop.invoice, id=new_id(), provider_txn_id="txn-2", created_at=NOW + timedelta(hours=1)
    )
    async with store.unit() as repos:
        await repos.invoices.add(later)
    async with store.unit() as repos:
        mine = await repos.invoices.list_for_user(shop.buyer.id)
        one = await repos.invoices.list_for_user(shop.buyer.id, limit=1)
        theirs = await repos.invoices.list_for_user(shop.referrer.id)
    assert [i.id for i in mine] == [later.id, shop.invoice.id]
    assert [i.id for i in one] == [later.id]
    assert theirs == []
