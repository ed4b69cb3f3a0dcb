"""The UserRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mimic.domain.accounts import Role
from mimic.domain.errors import Conflict
from mimic.domain.risk import FollowerRiskSettings, UserCaps
from tests.integration.ports.rows import HUGE, NOW, TINY, make_user
from tests.integration.ports.stores import Store


async def test_user_round_trips_settings_caps_and_utc_times(store: Store) -> None:
    created = datetime(2025, 3, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    user = make_user(
        "alice",
        created_at=created,
        settings=FollowerRiskSettings(risk_perc=TINY, leverage=7, paused=True),
        caps=UserCaps(max_risk_perc=HUGE, max_leverage=10),
    )
    async with store.unit() as repos:
        await repos.users.add(user)
    async with store.unit() as repos:
        loaded = await repos.users.get(user.id)
        by_name = await repos.users.get_by_username("alice")
    assert loaded == user == by_name
    assert loaded is not None
    assert loaded.settings.risk_perc == TINY
    assert str(loaded.settings.risk_perc) == str(TINY)
    assert loaded.caps.max_risk_perc == HUGE
    assert str(loaded.caps.max_risk_perc) == str(HUGE)
    assert loaded.created_at.tzinfo is UTC
    assert loaded.created_at == created

    loaded.active = False
    loaded.role = Role.ADMIN
    loaded.settings = FollowerRiskSettings()
    async with store.unit() as repos:
        await repos.users.save(loaded)
    async with store.unit() as repos:
        assert await repos.users.get(user.id) == loaded
        assert await repos.users.get("missing") is None


async def test_users_are_handed_out_as_copies(store: Store) -> None:
    """Changing what was stored or what was read changes nothing until it is saved."""
    alice = make_user("alice")
    async with store.unit() as repos:
        await repos.users.add(alice)
    alice.active = False
    async with store.unit() as repos:
        loaded = await repos.users.get(alice.id)
        assert loaded is not None
        assert loaded.active is True
        loaded.email = "changed@example.com"
    async with store.unit() as repos:
        again = await repos.users.get(alice.id)
    assert again is not None
    assert again.email == "alice@example.com"


async def test_referral_code_finds_the_referrer_and_links_survive(store: Store) -> None:
    alice = make_user("alice", referral_code="ABCDE23456")
    bob = make_user("bob", referral_code="ZXCVB98765", referred_by=alice.id)
    async with store.unit() as repos:
        await repos.users.add(alice)
        await repos.users.add(bob)
    async with store.unit() as repos:
        assert await repos.users.get_by_referral_code("ABCDE23456") == alice
        assert await repos.users.get_by_referral_code("NOPE") is None
        loaded = await repos.users.get(bob.id)
    assert loaded is not None
    assert loaded.referred_by == alice.id


async def test_user_list_pages_in_creation_order(store: Store) -> None:
    async with store.unit() as repos:
        for n in range(5):
            await repos.users.add(make_user(f"user{n}", created_at=NOW + timedelta(seconds=n)))
    async with store.unit() as repos:
        page = await repos.users.list(offset=1, limit=2)
    assert [u.username for u in page] == ["user1", "user2"]


async def test_usernames_by_id_leave_out_the_unknown(store: Store) -> None:
    ann, bob = make_user("ann"), make_user("bob")
    async with store.unit() as repos:
        await repos.users.add(ann)
        await repos.users.add(bob)
    async with store.unit() as repos:
        assert await repos.users.usernames([ann.id, "nobody"]) == {ann.id: "ann"}
        assert await repos.users.usernames([]) == {}


async def test_user_add_reports_which_field_is_taken(store: Store) -> None:
    async with store.unit() as repos:
        await repos.users.add(make_user("alice"))
    async with store.unit() as repos:
        with pytest.raises(Conflict, match="username is taken"):
            await repos.users.add(make_user("alice", email="other@example.com"))
    async with store.unit() as repos:
        with pytest.raises(Conflict, match="email is already registered"):
            await repos.users.add(replace(make_user("bob"), email="alice@example.com"))
    bob = make_user("bob")
    async with store.unit() as repos:
        await repos.users.add(bob)
        await repos.users.save(bob)  # its own name and email are not a conflict
    bob.username = "alice"
    async with store.unit() as repos:
        with pytest.raises(Conflict, match="username is taken"):
            await repos.users.save(bob)
