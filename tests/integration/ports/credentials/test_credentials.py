"""The CredentialRepository and ConnectionChecks contracts, on the fake and on SQL."""

from datetime import timedelta

from mimic.domain.accounts import ConnectionStatus, ValidationStatus
from mimic.ports.credentials import StoredCredentials
from tests.integration.ports.rows import NOW, make_account, make_user
from tests.integration.ports.stores import Store


async def test_sealed_credentials_page_by_id_and_swap_only_from_what_was_read(
    store: Store,
) -> None:
    ann = make_user("ann")
    first, second, bare = (make_account(ann, ConnectionStatus.APPROVED) for _ in range(3))
    first.id, second.id, bare.id = "1" * 32, "2" * 32, "3" * 32
    async with store.unit() as repos:
        await repos.users.add(ann)
        for account in (second, first, bare):
            await repos.accounts.add(account)
        await repos.credentials.store(first.id, "token-1")
        await repos.credentials.store(second.id, "token-2")
        await repos.credentials.store("missing", "token-x")  # no such connection: nothing
    async with store.unit() as repos:
        credentials = repos.credentials
        assert await credentials.get(first.id) == StoredCredentials(
            first.id, ann.id, "paper", "token-1"
        )
        assert await credentials.get(bare.id) is None
        assert await credentials.get("missing") is None
        assert [c.account_id for c in await credentials.page_after(None, 10)] == [
            first.id,
            second.id,
        ]
        assert [c.account_id for c in await credentials.page_after(first.id, 1)] == [second.id]
        assert await credentials.replace(first.id, "token-1", "token-1b") is True
        assert await credentials.replace(second.id, "stale", "token-2b") is False
    async with store.unit() as repos:
        assert [c.token for c in await repos.credentials.page_after(None, 10)] == [
            "token-1b",
            "token-2",
        ]


async def test_checks_are_recorded_and_pending_unchecked_ones_found_by_their_last_try(
    store: Store,
) -> None:
    ann = make_user("ann")
    pending = [make_account(ann, ConnectionStatus.PENDING) for _ in range(3)]
    decided = make_account(ann, ConnectionStatus.APPROVED)
    for n, account in enumerate(pending):
        account.id = f"{3 - n}" * 32  # created first, but the highest id
    async with store.unit() as repos:
        await repos.users.add(ann)
        for account in (*pending, decided):
            await repos.accounts.add(account)
        await repos.checks.record(
            pending[1].id, ValidationStatus.UNCHECKED, "timed out", NOW + timedelta(minutes=5)
        )
        await repos.checks.record(pending[2].id, ValidationStatus.VALID, "keys work", NOW)
    async with store.unit() as repos:
        assert list(await repos.checks.unchecked(NOW + timedelta(minutes=1))) == [pending[0].id]
        later = await repos.checks.unchecked(NOW + timedelta(minutes=10))
        checked = await repos.accounts.get(pending[2].id)
    assert list(later) == sorted([pending[0].id, pending[1].id])
    assert checked is not None
    assert (checked.validation_status, checked.validation_detail, checked.validated_at) == (
        ValidationStatus.VALID,
        "keys work",
        NOW,
    )
