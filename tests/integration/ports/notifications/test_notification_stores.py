"""The notification ports' stores (outbox, recipients, preferences, Telegram links), on the
fakes and on SQL (SQLite, Postgres)."""

import asyncio
from datetime import timedelta

from mimic.domain.notifications import Channel, DeliveryResult, Notification, Recipient
from tests.integration.ports.rows import NOW, make_user, new_id
from tests.integration.ports.stores import Store

LEASE = timedelta(seconds=30)


async def test_the_outbox_leases_what_is_due_and_keeps_what_failed_for_later(
    store: Store,
) -> None:
    sent, retried, waiting = (
        Notification(new_id(), "u" * 32, "order.filled", f"text {n}", NOW + timedelta(seconds=n))
        for n in range(3)
    )
    async with store.unit() as repos:
        await repos.outbox.add_many([sent, retried, waiting])
        assert await repos.outbox.count_unsent() == 3
    async with store.unit() as repos:
        claimed = await repos.outbox.claim_due(
            now=NOW + timedelta(seconds=1), lease_until=NOW + LEASE, limit=10
        )
    assert sorted(n.id for n in claimed) == sorted([sent.id, retried.id])
    assert {n.attempts for n in claimed} == {1}
    async with store.unit() as repos:  # leased: nobody else takes them meanwhile
        again = await repos.outbox.claim_due(
            now=NOW + timedelta(seconds=5), lease_until=NOW + LEASE, limit=10
        )
        assert [n.id for n in again] == [waiting.id]
        await repos.outbox.record_deliveries(
            [
                DeliveryResult(sent.id, frozenset({Channel.EMAIL}), NOW + LEASE, None),
                DeliveryResult(retried.id, frozenset(), None, NOW + 2 * LEASE, "smtp: 421"),
            ]
        )
    async with store.unit() as repos:
        assert await repos.outbox.count_unsent() == 2
        later = await repos.outbox.claim_due(
            now=NOW + 2 * LEASE, lease_until=NOW + 3 * LEASE, limit=10
        )
    assert sorted((n.id, n.attempts) for n in later) == sorted([(retried.id, 2), (waiting.id, 2)])


async def test_concurrent_senders_lease_disjoint_notifications_and_leave_none_due(
    store: Store,
) -> None:
    """Several delivery passes at once (workers, the embedded process): none waits for or
    deadlocks with another, no notification is leased twice, none is left behind."""
    due = [Notification(new_id(), "u" * 32, "order.filled", f"text {n}", NOW) for n in range(200)]
    async with store.unit() as repos:
        await repos.outbox.add_many(due)

    async def sender() -> list[str]:
        async with store.unit() as repos:
            claimed = await repos.outbox.claim_due(
                now=NOW + timedelta(seconds=1), lease_until=NOW + LEASE, limit=60
            )
            await asyncio.sleep(0.05)  # the others claim while this one holds its lease
            return [n.id for n in claimed]

    leased = [i for batch in await asyncio.gather(*(sender() for _ in range(4))) for i in batch]
    assert len(leased) == len(set(leased)) == len(due)


async def test_recipients_preferences_and_one_chat_per_user(store: Store) -> None:
    ann, bob = make_user("ann"), make_user("bob", active=False)
    async with store.unit() as repos:
        await repos.users.add(ann)
        await repos.users.add(bob)
        await repos.telegram_links.link(ann.id, "chat-1", NOW)
        await repos.telegram_links.link(bob.id, "chat-1", NOW)  # the chat moves to bob
        await repos.preferences.choose(ann.id, {"order.filled": frozenset({Channel.EMAIL})})
        await repos.preferences.choose(ann.id, {"order.rejected": frozenset()})
    async with store.unit() as repos:
        assert await repos.recipients.recipients([ann.id, bob.id, "nobody"]) == {
            ann.id: Recipient(ann.id, "ann@example.com", True, None),
            bob.id: Recipient(bob.id, "bob@example.com", False, "chat-1"),
        }
        assert await repos.telegram_links.chats_of([ann.id, bob.id]) == {bob.id: "chat-1"}
        assert await repos.telegram_links.user_of_chat("chat-1") == bob.id
        assert await repos.preferences.choices_of([ann.id, bob.id]) == {
            ann.id: {
                "order.filled": frozenset({Channel.EMAIL}),
                "order.rejected": frozenset(),
            }
        }
        assert await repos.telegram_links.unlink(bob.id) is True
        assert await repos.telegram_links.unlink(bob.id) is False
    async with store.unit() as repos:
        assert await repos.telegram_links.user_of_chat("chat-1") is None


async def test_a_link_code_is_the_users_latest_taken_once_before_it_expires(
    store: Store,
) -> None:
    ann, bob = make_user("ann"), make_user("bob")
    async with store.unit() as repos:
        await repos.users.add(ann)
        await repos.users.add(bob)
        await repos.telegram_links.add_code("ann-old", ann.id, NOW + LEASE)
        await repos.telegram_links.add_code("ann-new", ann.id, NOW + LEASE)  # replaces it
        await repos.telegram_links.add_code("bob-1", bob.id, NOW + LEASE)
    async with store.unit() as repos:
        assert await repos.telegram_links.take_code("ann-old", NOW) is None
        assert await repos.telegram_links.take_code("ann-new", NOW) == ann.id
        assert await repos.telegram_links.take_code("ann-new", NOW) is None
        assert await repos.telegram_links.take_code("bob-1", NOW + LEASE) is None  # expired
        assert await repos.telegram_links.take_code("unknown", NOW) is None
