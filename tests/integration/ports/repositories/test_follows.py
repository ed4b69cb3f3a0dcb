"""The SourceFollowRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from decimal import Decimal

from mimic.domain.accounts import SignalSource, TradeDirection
from mimic.domain.follows import SourceFollow
from tests.integration.ports.rows import SOURCE_ID, make_user
from tests.integration.ports.stores import Store

OTHER = "o" * 32


async def test_a_followers_list_is_replaced_whole_and_read_per_source(store: Store) -> None:
    ann, bob, cid = make_user("ann"), make_user("bob"), make_user("cid")
    sized = SourceFollow(SOURCE_ID, Decimal("0.5"), 3, TradeDirection.LONG_ONLY, Decimal("1.25"))
    async with store.unit() as repos:
        for user in (ann, bob, cid):
            await repos.users.add(user)
        await repos.sources.add(SignalSource(OTHER, "other", "other-hash"))
        await repos.follows.replace_for_user(ann.id, [SourceFollow(OTHER), sized])
        await repos.follows.replace_for_user(bob.id, [SourceFollow(OTHER)])
    async with store.unit() as repos:
        assert await repos.follows.list_for_user(ann.id) == sorted(
            [SourceFollow(OTHER), sized], key=lambda f: f.source_id
        )
        assert await repos.follows.list_for_user(cid.id) == []
        choices = await repos.follows.choices_for(SOURCE_ID)
    assert choices.choosers == {ann.id, bob.id}
    assert dict(choices.follows) == {ann.id: sized}
    assert choices.allocation(ann.id) == sized
    assert choices.allocation(bob.id) is None  # chose sources, not this one
    assert choices.allocation(cid.id) == SourceFollow(SOURCE_ID)  # chose none: follows all

    async with store.unit() as repos:
        await repos.follows.replace_for_user(ann.id, [])
    async with store.unit() as repos:
        assert await repos.follows.list_for_user(ann.id) == []
        choices = await repos.follows.choices_for(SOURCE_ID)
    assert choices.choosers == {bob.id}
    assert dict(choices.follows) == {}
