"""The MessageRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from datetime import timedelta

from mimic.domain.messages import Message, MessageThread
from tests.integration.ports.rows import NOW, make_user, new_id
from tests.integration.ports.stores import Store

MINUTE = timedelta(minutes=1)


async def test_threads_read_newest_first_and_count_what_each_side_has_not_read(
    store: Store,
) -> None:
    alice, bob, admin = make_user("alice"), make_user("bob"), make_user("admin")
    older = MessageThread(new_id(), alice.id, "Keys", NOW, NOW)
    newer = MessageThread(new_id(), bob.id, "Payout", NOW + MINUTE, NOW + MINUTE)
    written = [
        Message(new_id(), older.id, alice.id, False, "my keys fail", NOW),
        Message(new_id(), older.id, admin.id, True, "try again", NOW + 2 * MINUTE),
        Message(new_id(), older.id, alice.id, False, "works now", NOW + 3 * MINUTE),
        Message(new_id(), newer.id, bob.id, False, "when?", NOW + MINUTE),
    ]
    async with store.unit() as repos:
        for user in (alice, bob, admin):
            await repos.users.add(user)
        for thread in (older, newer):
            await repos.messages.add_thread(thread)
        for message in written:
            await repos.messages.add_message(message)
        await repos.messages.touch_thread(older.id, NOW + 3 * MINUTE)

    async with store.unit() as repos:
        messages = repos.messages
        stored = await messages.get_thread(older.id)
        assert stored is not None
        assert (stored.subject, stored.updated_at) == ("Keys", NOW + 3 * MINUTE)
        assert await messages.get_thread("missing") is None
        assert [m.body for m in await messages.list_messages(older.id)] == [
            "my keys fail",
            "try again",
            "works now",
        ]
        assert await messages.latest_sent(alice.id, limit=5) == [NOW + 3 * MINUTE, NOW]
        assert await messages.latest_sent(alice.id, limit=1) == [NOW + 3 * MINUTE]
        every = await messages.list_threads(user_id=None, for_admins=True, offset=0, limit=10)
        assert [(s.thread.id, s.unread, s.messages) for s in every] == [
            (older.id, 2, 3),  # touched last: the most recently active
            (newer.id, 1, 1),
        ]
        alices = await messages.list_threads(user_id=alice.id, for_admins=False, offset=0, limit=10)
        assert [(s.thread.id, s.unread) for s in alices] == [(older.id, 1)]
        assert await messages.unread_count(user_id=None, for_admins=True) == 3
        assert await messages.unread_count(user_id=alice.id, for_admins=False) == 1
        await messages.mark_read(older.id, by_admins=True, at=NOW + 4 * MINUTE)

    async with store.unit() as repos:
        assert await repos.messages.unread_count(user_id=None, for_admins=True) == 1
        assert await repos.messages.unread_count(user_id=alice.id, for_admins=False) == 1
        page = await repos.messages.list_threads(user_id=None, for_admins=True, offset=1, limit=1)
    assert [s.thread.id for s in page] == [newer.id]
