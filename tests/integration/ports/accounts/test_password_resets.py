"""The PasswordResetTokens contract, on the fake and on SQL (SQLite, Postgres)."""

from datetime import timedelta

import pytest

from mimic.domain.errors import Conflict
from mimic.domain.password_reset import PasswordResetToken
from tests.integration.ports.rows import NOW, make_user, new_id
from tests.integration.ports.stores import Store

HOUR = timedelta(hours=1)


async def test_a_code_is_used_once_and_a_reset_retires_the_rest(store: Store) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    first, second, bobs = (
        PasswordResetToken(new_id(), user.id, f"hash-{n}", NOW, NOW + HOUR)
        for n, user in enumerate((alice, alice, bob))
    )
    async with store.unit() as repos:
        await repos.users.add(alice)
        await repos.users.add(bob)
        for token in (first, second, bobs):
            await repos.resets.add(token)
    async with store.unit() as repos:
        with pytest.raises(Conflict):
            await repos.resets.add(PasswordResetToken(new_id(), bob.id, "hash-0", NOW, NOW + HOUR))
    async with store.unit() as repos:
        assert await repos.resets.find("hash-0") == first
        assert await repos.resets.find("unknown") is None
        assert await repos.resets.use(first.id, NOW + timedelta(minutes=1)) is True
        assert await repos.resets.use(first.id, NOW + timedelta(minutes=2)) is False
        await repos.resets.use_all_for_user(alice.id, NOW + timedelta(minutes=3))
    async with store.unit() as repos:
        used_first = await repos.resets.find("hash-0")
        used_second = await repos.resets.find("hash-1")
        untouched = await repos.resets.find("hash-2")
    assert used_first is not None
    assert used_first.used_at == NOW + timedelta(minutes=1)  # the first use stays
    assert used_second is not None
    assert used_second.used_at == NOW + timedelta(minutes=3)
    assert untouched == bobs
