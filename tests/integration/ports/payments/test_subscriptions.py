"""The SubscriptionRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from datetime import timedelta

from mimic.domain.payments import Subscription
from tests.integration.ports.payments.seed import open_shop
from tests.integration.ports.rows import NOW, new_id
from tests.integration.ports.stores import Store


async def test_subscriptions_notice_marks_and_bulk_activity(store: Store) -> None:
    shop = await open_shop(store)
    alice, plan = shop.buyer, shop.plan
    expires = NOW + timedelta(days=2)
    async with store.unit() as repos:
        await repos.subscriptions.put(Subscription(alice.id, plan.id, plan.name, NOW, expires))
    async with store.unit() as repos:
        subscriptions = repos.subscriptions
        # Many ids in one call: SQL chunks them below the drivers' parameter limits.
        asked = [alice.id, shop.referrer.id, *(new_id() for _ in range(1200))]
        assert await subscriptions.active_among(asked, NOW) == {alice.id}
        assert await subscriptions.active_among(asked, expires) == set()
        [due] = await subscriptions.due_for_notice(NOW, NOW + timedelta(days=3))
        assert due.expires_at == expires
        assert await subscriptions.mark_notice(alice.id, expires_at=expires, expired=False)
        assert not await subscriptions.mark_notice(alice.id, expires_at=expires, expired=False)
        moved = NOW + timedelta(days=40)
        assert not await subscriptions.mark_notice(alice.id, expires_at=moved, expired=True)
        await subscriptions.put(Subscription(alice.id, plan.id, plan.name, NOW, moved))
    async with store.unit() as repos:
        assert await repos.subscriptions.due_for_notice(NOW, NOW + timedelta(days=3)) == []
        stored = await repos.subscriptions.get(alice.id, for_update=True)
        assert await repos.subscriptions.get(shop.referrer.id) is None
    assert stored is not None
    assert (stored.expires_at, stored.expiring_notice_for) == (moved, None)
