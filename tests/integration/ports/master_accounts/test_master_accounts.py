"""The MasterAccountRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from datetime import timedelta
from decimal import Decimal

import pytest

from mimic.domain.accounts import SignalSource
from mimic.domain.errors import Conflict
from mimic.domain.master_fills import MasterAccount, MasterCursor, master_owner
from mimic.ports.credentials import StoredCredentials
from tests.integration.ports.rows import NOW, SOURCE_ID, new_id
from tests.integration.ports.stores import Store

OTHER = "o" * 32


async def test_one_account_per_source_with_its_sealed_credentials(store: Store) -> None:
    live = MasterAccount(new_id(), SOURCE_ID, "binanceusdm", ("BTCUSDT", "ETHUSDT"), NOW)
    paper = MasterAccount(new_id(), OTHER, "paper", ("BTCUSDT",), NOW)
    async with store.unit() as repos:
        await repos.sources.add(SignalSource(OTHER, "other", "other-hash"))
        await repos.masters.add(live, "sealed-token")
        await repos.masters.add(paper, None)
    async with store.unit() as repos:
        with pytest.raises(Conflict):
            await repos.masters.add(MasterAccount(new_id(), OTHER, "paper", (), NOW), None)
    async with store.unit() as repos:
        assert await repos.masters.get_for_source(SOURCE_ID) == live
        assert await repos.masters.list_all() == sorted([live, paper], key=lambda a: a.source_id)
        assert await repos.masters.credentials(live.id) == StoredCredentials(
            live.id, master_owner(SOURCE_ID), "binanceusdm", "sealed-token"
        )
        assert await repos.masters.credentials(paper.id) is None
        assert await repos.masters.delete_for_source(OTHER) is True
        assert await repos.masters.delete_for_source(OTHER) is False
    async with store.unit() as repos:
        assert await repos.masters.get_for_source(OTHER) is None


async def test_cursors_move_forward_only_and_go_with_the_account(store: Store) -> None:
    master = MasterAccount(new_id(), SOURCE_ID, "paper", ("BTCUSDT", "ETHUSDT"), NOW)
    later = NOW + timedelta(minutes=5)
    btc = MasterCursor("BTCUSDT", later, frozenset({"t2", "t3"}), Decimal("0.5"))
    eth = MasterCursor("ETHUSDT", NOW, frozenset({"t1"}), Decimal(-2))
    async with store.unit() as repos:
        await repos.masters.add(master, None)
        assert await repos.masters.cursors(SOURCE_ID) == {}
        await repos.masters.save_cursors(SOURCE_ID, {"BTCUSDT": btc, "ETHUSDT": eth})
    stale = MasterCursor("BTCUSDT", NOW, frozenset({"t1"}), Decimal(0))  # read less
    eth_on = MasterCursor("ETHUSDT", later, frozenset({"t4"}), Decimal(0))
    async with store.unit() as repos:
        await repos.masters.save_cursors(SOURCE_ID, {"BTCUSDT": stale, "ETHUSDT": eth_on})
        await repos.masters.save_cursors(SOURCE_ID, {})
    async with store.unit() as repos:
        assert await repos.masters.cursors(SOURCE_ID) == {"BTCUSDT": btc, "ETHUSDT": eth_on}
        assert await repos.masters.delete_for_source(SOURCE_ID) is True
    async with store.unit() as repos:
        await repos.masters.add(master, None)
        assert await repos.masters.cursors(SOURCE_ID) == {}
