"""The ReferralRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from decimal import Decimal

from mimic.domain.payments import ReferralCommission, new_payout
from tests.integration.ports.payments.seed import open_shop
from tests.integration.ports.rows import NOW, new_id
from tests.integration.ports.stores import Store


async def test_one_commission_per_invoice_and_payouts_mark_it_once(store: Store) -> None:
    shop = await open_shop(store)
    rita, alice = shop.referrer, shop.buyer

    def commission() -> ReferralCommission:
        return ReferralCommission(
            new_id(), rita.id, alice.id, shop.invoice.id, Decimal("7.9"), Decimal(10), NOW
        )

    async with store.unit() as repos:
        assert await repos.referrals.add_commission(commission()) is True
        assert await repos.referrals.add_commission(commission()) is False
    async with store.unit() as repos:
        [stored] = await repos.referrals.unpaid_of(rita.id)
        assert stored.amount_usd == Decimal("7.9")
        assert [u.username for u in await repos.referrals.referred_users(rita.id)] == ["alice"]
        assert [c.id for c in await repos.referrals.all_commissions()] == [stored.id]
    payout = new_payout(
        payout_id=new_id(), referrer_id=rita.id, unpaid=[stored], now=NOW, by=rita.id
    )
    async with store.unit() as repos:
        assert await repos.referrals.add_payout(payout) is True
    async with store.unit() as repos:
        assert await repos.referrals.unpaid_of(rita.id) == []
        [paid] = await repos.referrals.commissions_of(rita.id)
        assert paid.payout_id == payout.id
    twice = new_payout(payout_id=new_id(), referrer_id=rita.id, unpaid=[stored], now=NOW, by="x")
    async with store.unit() as repos:
        assert await repos.referrals.add_payout(twice) is False
