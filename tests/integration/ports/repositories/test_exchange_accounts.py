"""The ExchangeAccountRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from datetime import timedelta
from decimal import Decimal

from mimic.domain.accounts import ConnectionStatus
from mimic.domain.fanout import FanoutPart
from mimic.domain.protection import DcaSettings, ProtectionSettings, TrailingSettings
from mimic.domain.risk import FollowerRiskSettings
from tests.integration.ports.rows import NOW, make_account, make_user, new_id
from tests.integration.ports.stores import Store


async def test_the_streamed_accounts_of_every_exchange_even_an_odd_id(store: Store) -> None:
    """The ids and exchanges of approved connections of active users: read as a joined
    string per exchange on SQL, and read right still if an id has the joining comma."""
    active, inactive = make_user("active"), make_user("inactive", active=False)
    paper = [make_account(active, ConnectionStatus.APPROVED) for _ in range(3)]
    binance = make_account(active, ConnectionStatus.APPROVED, exchange="binance")
    left_out = [
        make_account(active, ConnectionStatus.PENDING),
        make_account(inactive, ConnectionStatus.APPROVED),
    ]
    async with store.unit() as repos:
        for user in (active, inactive):
            await repos.users.add(user)
        for account in [*paper, binance, *left_out]:
            await repos.accounts.add(account)
    streamed = {a.id: a.exchange for a in [*paper, binance]}
    async with store.unit() as repos:
        assert await repos.accounts.list_streamed() == streamed

    odd = make_account(active, ConnectionStatus.APPROVED, id="odd,id")
    async with store.unit() as repos:
        await repos.accounts.add(odd)
    async with store.unit() as repos:
        assert await repos.accounts.list_streamed() == {**streamed, "odd,id": "paper"}


async def test_accounts_and_copy_candidates(store: Store) -> None:
    trailing = TrailingSettings(True, Decimal(2), Decimal(1))
    active = make_user("active")
    paused = make_user(
        "paused",
        settings=FollowerRiskSettings(paused=True),
        protection=ProtectionSettings(trailing=trailing),
    )
    inactive = make_user(
        "inactive", active=False, protection=ProtectionSettings(dca=DcaSettings(enabled=True))
    )
    approved = make_account(active, ConnectionStatus.APPROVED, api_key_masked="abcd...wxyz")
    disabled = make_account(active, ConnectionStatus.APPROVED, enabled=False)
    pending = make_account(active, ConnectionStatus.PENDING)
    rejected = make_account(paused, ConnectionStatus.REJECTED, status_reason="bad key")
    of_paused = make_account(paused, ConnectionStatus.APPROVED)
    of_inactive = make_account(inactive, ConnectionStatus.APPROVED)
    everyone = [approved, disabled, pending, rejected, of_paused, of_inactive]
    for n, account in enumerate(everyone):
        account.created_at = NOW + timedelta(seconds=n)
    async with store.unit() as repos:
        for user in (active, paused, inactive):
            await repos.users.add(user)
        for account in everyone:
            await repos.accounts.add(account)

    async with store.unit() as repos:
        accounts = repos.accounts
        # Approved accounts of active users, enabled or not, paused or not.
        candidates = await accounts.list_copy_candidates()
        assert [(a.id, u.id) for a, u in candidates] == [
            (approved.id, active.id),
            (disabled.id, active.id),
            (of_paused.id, paused.id),
        ]
        assert candidates[0] == (approved, active)
        assert candidates[2][1].settings.paused
        # The position monitor reads only followers with a trailing stop or DCA.
        assert await accounts.list_copy_candidates(monitored_only=True) == [candidates[2]]
        # The stream holders read the same accounts' ids and exchanges.
        assert await accounts.list_streamed() == {a.id: a.exchange for a, _ in candidates}

        assert await accounts.get(rejected.id) == rejected
        assert await accounts.get("missing") is None
        # More ids than one IN list holds: the SQL query is chunked.
        wanted = [approved.id, of_inactive.id, *(new_id() for _ in range(600))]
        assert {a.id for a in await accounts.get_many(wanted)} == {approved.id, of_inactive.id}
        assert await accounts.list_for_user(active.id) == [approved, disabled, pending]
        assert await accounts.list_by_status(ConnectionStatus.PENDING) == [pending]
        assert len(await accounts.list_by_status(None)) == len(everyone)

        pending.status = ConnectionStatus.APPROVED
        pending.enabled = False
        await accounts.save(pending)
        await accounts.delete(disabled.id)
    async with store.unit() as repos:
        assert await repos.accounts.get(pending.id) == pending
        assert await repos.accounts.get(disabled.id) is None


async def test_copy_candidates_by_part(store: Store) -> None:
    user = make_user("parted")
    low = make_account(user, ConnectionStatus.APPROVED, id="1" + new_id()[1:])
    high = make_account(user, ConnectionStatus.APPROVED, id="c" + new_id()[1:])
    first, second = FanoutPart(0, 2), FanoutPart(1, 2)
    async with store.unit() as repos:
        await repos.users.add(user)
        for account in (low, high):
            await repos.accounts.add(account)
    async with store.unit() as repos:
        accounts = repos.accounts
        assert [a.id for a, _ in await accounts.list_copy_candidates(part=first)] == [low.id]
        assert [a.id for a, _ in await accounts.list_copy_candidates(part=second)] == [high.id]
        assert len(await accounts.list_copy_candidates()) == 2


async def test_copy_candidates_in_pages(store: Store) -> None:
    user, left = make_user("paged"), make_user("left", active=False)
    accounts = [make_account(user, ConnectionStatus.APPROVED) for _ in range(5)]
    accounts.append(make_account(left, ConnectionStatus.APPROVED))  # not a candidate
    for n, account in enumerate(accounts):
        # Two with the same creation time: the id orders them.
        account.created_at = NOW + timedelta(seconds=min(n, 3))
    async with store.unit() as repos:
        await repos.users.add(user)
        await repos.users.add(left)
        for account in reversed(accounts):
            await repos.accounts.add(account)
    async with store.unit() as repos:
        listed = [a.id for a, _ in await repos.accounts.list_copy_candidates()]
        paged: list[str] = []
        after = None
        while page := await repos.accounts.list_copy_candidates(after=after, limit=2):
            assert len(page) <= 2
            paged += [a.id for a, _ in page]
            after = page[-1][0]
    assert len(listed) == 5
    assert paged == listed
