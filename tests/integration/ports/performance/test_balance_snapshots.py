"""The BalanceSnapshotRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from datetime import timedelta
from decimal import Decimal

from mimic.domain.performance import BalanceSnapshot
from tests.integration.ports.rows import NOW, TINY
from tests.integration.ports.stores import Store

HOUR = timedelta(hours=1)


def snapshot(account_id: str, hours: int, equity: str = "100") -> BalanceSnapshot:
    at = NOW + hours * HOUR
    return BalanceSnapshot(account_id, at, "USDT", Decimal(equity), Decimal(equity), at)


async def test_one_snapshot_per_account_and_hour_read_oldest_first(store: Store) -> None:
    first = [snapshot("a1", n, str(100 + n)) for n in range(4)]
    async with store.unit() as repos:
        assert await repos.snapshots.add_new([("ann", s) for s in first]) == 4
        again = [("ann", snapshot("a1", 3, "999")), ("ann", snapshot("a2", 0, "50"))]
        assert await repos.snapshots.add_new(again) == 1  # a1's hour 3 is kept as it was
        assert await repos.snapshots.add_new([("bob", snapshot("b1", 1, str(TINY)))]) == 1
    async with store.unit() as repos:
        snapshots = repos.snapshots
        assert await snapshots.latest_hours(["a1", "a2", "none"]) == {
            "a1": NOW + 3 * HOUR,
            "a2": NOW,
        }
        assert await snapshots.history(["a1"], since=None, limit=2) == first[2:]
        assert await snapshots.history(["a1"], since=NOW + HOUR, limit=2) == first[1:3]
        by_user = await snapshots.for_users(["ann", "bob"], since=NOW + HOUR)
    assert by_user["ann"] == first[1:]
    assert [(s.account_id, s.equity) for s in by_user["bob"]] == [("b1", TINY)]
