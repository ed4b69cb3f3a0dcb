"""A master trades on their own Binance account (the stub, through real ccxt); followers on
the paper exchange copy each fill proportionally; a restart between fills re-copies none
and misses none.

Both the master and the followers start with 10,000 USDT; BTCUSDT stays at 40,000 on both
venues. Ann follows with multiplier 1.01, Ben with 0.51 (1 % and 2 % over the round
numbers, so that the fees both sides pay never tip a quantity below its step):

    master             signal                  ann (x 1.01)               ben (x 0.51)
    buy 0.05  open     long, fraction 0.2      2,020 / 40,000 = 0.050     1,020 -> 0.025
    buy 0.03  add      long, 0.12              1,212 -> 0.030             612 -> 0.015
    sell 0.02 reduce   close 0.25              a quarter of 0.080: 0.020  of 0.040: 0.010
    (restart; while Mimic is down:)
    sell 0.10 flip     short, 0.16             close 0.060, sell 0.040    close 0.030, 0.020
    buy 0.04  close    close 1                 close 0.040                close 0.020
"""

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from mimic.adapters.ccxt import CcxtGateways
from mimic.adapters.crypto import FernetSecretBox, generate_key
from mimic.adapters.paper.gateway import PaperGateway
from mimic.adapters.paper.venue import PaperVenue
from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.sqlalchemy.tables import master_accounts, master_cursors
from mimic.adapters.sqlalchemy.vault import StoredCredentialVault
from mimic.adapters.system import SystemClock
from mimic.application.master_accounts import as_connection
from mimic.domain.accounts import ApiCredentials, ExchangeAccount
from mimic.domain.errors import AuthRejected, SecretUnreadable
from mimic.domain.master_fills import MasterAccount, master_owner, master_signal_id
from mimic.domain.orders import OrderRequest, OrderSide
from mimic.entrypoints.cli import main, rotate_keys
from mimic.entrypoints.config import Settings
from tests.integration.harness import Api, make_settings, running_platform
from tests.stubs.binance import BinanceStub, running_in_thread

MASTER_KEY = "masterKeyAbCdEfGh0123456789"
MASTER_SECRET = "masterSecretZyXwVuT9876543210"


class MasterVault:
    """The master's own keys, as their trading bot holds them (not Mimic)."""

    async def credentials_for(self, account: ExchangeAccount) -> ApiCredentials:
        if account.id != "master":
            raise AuthRejected("not the master")
        return ApiCredentials(MASTER_KEY, MASTER_SECRET)


@pytest.fixture
def stub() -> Iterator[BinanceStub]:
    stub = BinanceStub()
    stub.add_account(MASTER_KEY, MASTER_SECRET)
    stub.set_mark_price("BTCUSDT", "40000")
    with running_in_thread(stub) as running:
        yield running


class Master:
    """Trades by hand on the master's account, through ccxt like any bot would."""

    def __init__(self, stub: BinanceStub) -> None:
        self._stub = stub
        self._gateways = CcxtGateways(MasterVault(), api_origins={"binanceusdm": stub.base_url})
        self._orders = 0

    async def trade(self, side: OrderSide, quantity: str) -> str:
        """The master's trade id of the fill."""
        self._orders += 1
        gateway = await self._gateways.for_account(
            ExchangeAccount("master", "master", "binanceusdm", "own", datetime.now(UTC))
        )
        request = OrderRequest("BTCUSDT", side, Decimal(quantity), f"by-hand-{self._orders}")
        await gateway.place_market_order(request)
        return str(self._stub.accounts[MASTER_KEY].trades[-1]["id"])

    async def aclose(self) -> None:
        await self._gateways.aclose()


def settings_for(database_url: str, stub: BinanceStub) -> Settings:
    """The poll is run on purpose (POST .../accounts/poll): its timer is parked."""
    return make_settings(
        database_url,
        ccxt_api_origins={"binanceusdm": stub.base_url},
        master_poll_interval=timedelta(hours=1),
    )


async def poll(api: Api) -> int:
    response = await api.client.post(
        "/api/admin/sources/accounts/poll", headers=api.auth(api.admin_token)
    )
    assert response.status_code == 200, response.text
    return int(response.json()["signals"])


def orders_by_account(report: dict[str, Any]) -> dict[str, list[tuple[str, str, str]]]:
    """Per follower account: (leg, side, quantity) of each order filled, close first."""
    return {
        a["exchange_account_id"]: sorted(
            ((o["leg"], o["side"], o["quantity"]) for o in a["orders"] if o["status"] == "filled"),
            key=lambda order: order[0] != "close",
        )
        for a in report["accounts"]
    }


async def copied(api: Api, source_id: str, trade_id: str) -> dict[str, list[tuple[str, str, str]]]:
    report = await api.settled_report(master_signal_id(source_id, trade_id))
    return orders_by_account(report)


async def test_a_master_opens_adds_reduces_flips_and_closes_and_followers_copy_in_proportion(
    database_url: str, stub: BinanceStub
) -> None:
    master = Master(stub)
    settings = settings_for(database_url, stub)
    try:
        async with running_platform(settings) as api:
            await api.set_price("BTCUSDT", "40000")
            created = await api.client.post(
                "/api/admin/sources",
                json={"name": "Own account"},
                headers=api.auth(api.admin_token),
            )
            source_id = created.json()["id"]
            attached = await api.client.put(
                f"/api/admin/sources/{source_id}/account",
                json={
                    "exchange": "binanceusdm",
                    "symbols": ["btc/usdt"],
                    "api_key": MASTER_KEY,
                    "api_secret": MASTER_SECRET,
                },
                headers=api.auth(api.admin_token),
            )
            assert attached.status_code == 201, attached.text
            body = attached.json()
            assert body["symbols"] == ["BTCUSDT"]
            assert body["api_key_masked"] == "mast...6789"
            # The stub's key may trade futures: Mimic warns, in the answer and the audit log.
            assert body["warning"] == (
                "the key can trade: Mimic only reads with it, use a read-only key"
            )
            assert MASTER_SECRET not in attached.text
            audit = await api.client.get(
                "/api/admin/audit",
                params={"action": "source.master_attached"},
                headers=api.auth(api.admin_token),
            )
            (event,) = audit.json()
            assert event["details"]["warning"] == body["warning"]

            ann, ann_acc = await api.follower("ann")
            ben, ben_acc = await api.follower("ben")
            for token, multiplier in ((ann, "1.01"), (ben, "0.51")):
                chosen = await api.client.put(
                    "/api/me/sources",
                    json=[{"source_id": source_id, "multiplier": multiplier}],
                    headers=api.auth(token),
                )
                assert chosen.status_code == 200, chosen.text

            assert await poll(api) == 0  # the first read starts the cursor: nothing yet
            opened = await master.trade(OrderSide.BUY, "0.05")
            assert await poll(api) == 1
            assert await copied(api, source_id, opened) == {
                ann_acc: [("entry", "buy", "0.05")],
                ben_acc: [("entry", "buy", "0.025")],
            }
            added = await master.trade(OrderSide.BUY, "0.03")
            assert await poll(api) == 1
            assert await copied(api, source_id, added) == {
                ann_acc: [("entry", "buy", "0.03")],
                ben_acc: [("entry", "buy", "0.015")],
            }
            reduced = await master.trade(OrderSide.SELL, "0.02")
            assert await poll(api) == 1
            shown = await api.settled_report(master_signal_id(source_id, reduced))
            assert (shown["signal"]["action"], shown["signal"]["external_id"]) == ("close", reduced)
            assert (shown["signal"]["close_fraction"], shown["signal"]["equity_fraction"]) == (
                "0.25",
                None,
            )
            # Copy fidelity's reference is the master's own fill price.
            assert shown["signal"]["reference_price"] == "40000"
            assert await poll(api) == 0  # read again: nothing new
            assert await copied(api, source_id, reduced) == {
                ann_acc: [("close", "sell", "0.02")],
                ben_acc: [("close", "sell", "0.01")],
            }

        # Mimic is down while the master flips.
        flipped = await master.trade(OrderSide.SELL, "0.10")

        async with running_platform(settings) as api:
            assert await poll(api) == 1  # the flip only: nothing before it is copied again
            assert await copied(api, source_id, flipped) == {
                ann_acc: [("close", "sell", "0.06"), ("entry", "sell", "0.04")],
                ben_acc: [("close", "sell", "0.03"), ("entry", "sell", "0.02")],
            }
            closed = await master.trade(OrderSide.BUY, "0.04")
            assert await poll(api) == 1
            assert await copied(api, source_id, closed) == {
                ann_acc: [("close", "buy", "0.04")],
                ben_acc: [("close", "buy", "0.02")],
            }
            for token in (ann, ben):  # flat, as the master is
                positions = await api.client.get("/api/positions", headers=api.auth(token))
                assert positions.status_code == 200, positions.text
                assert positions.json() == []
            signals = await api.client.get("/api/signals", headers=api.auth(api.admin_token))
            from_master = [s for s in signals.json() if s["source_id"] == source_id]
            assert len(from_master) == 5  # one per fill, none twice
    finally:
        await master.aclose()


async def test_a_master_on_the_paper_exchange_is_copied_and_two_polls_at_once_copy_once(
    database_url: str,
) -> None:
    """Master and follower start with 10,000 on the paper exchange, BTCUSDT at 40,000: the
    master's 0.05 is a fraction 0.2, Ann's (x 1.01) 2,020 / 40,000 = 0.050; the master's
    0.01 sale closes a fifth, 0.010 of Ann's; the master's last 0.04 closes the rest."""
    settings = make_settings(database_url, master_poll_interval=timedelta(hours=1))
    async with running_platform(settings) as api:
        await api.set_price("BTCUSDT", "40000")
        created = await api.client.post(
            "/api/admin/sources", json={"name": "Paper master"}, headers=api.auth(api.admin_token)
        )
        source_id = created.json()["id"]
        attached = await api.client.put(
            f"/api/admin/sources/{source_id}/account",
            json={"exchange": "paper", "symbols": ["BTCUSDT"]},
            headers=api.auth(api.admin_token),
        )
        assert attached.status_code == 201, attached.text
        assert attached.json()["warning"] is None  # no key at all
        # The master's own venue object on this test's loop (the app's lives on another),
        # over the same books.
        engine = create_engine(database_url)
        master = PaperGateway(
            PaperVenue(async_sessionmaker(engine, expire_on_commit=False), SystemClock()),
            attached.json()["id"],
        )
        ann, ann_acc = await api.follower("ann")
        chosen = await api.client.put(
            "/api/me/sources",
            json=[{"source_id": source_id, "multiplier": "1.01"}],
            headers=api.auth(ann),
        )
        assert chosen.status_code == 200, chosen.text
        assert await poll(api) == 0

        async def trade(side: OrderSide, quantity: str, client_id: str) -> str:
            request = OrderRequest("BTCUSDT", side, Decimal(quantity), client_id)
            return (await master.place_market_order(request)).exchange_order_id

        await trade(OrderSide.BUY, "0.05", "paper-open")
        assert sum(await asyncio.gather(poll(api), poll(api))) == 1
        (opened,) = await master.fetch_fills(["BTCUSDT"], datetime.now(UTC) - timedelta(hours=1))
        assert await copied(api, source_id, opened.fill_id) == {ann_acc: [("entry", "buy", "0.05")]}

        await trade(OrderSide.SELL, "0.01", "paper-reduce")
        await trade(OrderSide.SELL, "0.04", "paper-close")
        assert await poll(api) == 2
        fills = await master.fetch_fills(["BTCUSDT"], datetime.now(UTC) - timedelta(hours=1))
        reduced, closed = (f.fill_id for f in fills if f.fill_id != opened.fill_id)
        assert await copied(api, source_id, reduced) == {ann_acc: [("close", "sell", "0.01")]}
        assert await copied(api, source_id, closed) == {ann_acc: [("close", "sell", "0.04")]}
        await engine.dispose()


def test_the_cli_attaches_shows_and_detaches_a_master_account_with_keys_from_the_environment(
    sqlite_url: str,
    stub: BinanceStub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MIMIC_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MIMIC_CCXT_URL_OVERRIDES", f"binanceusdm={stub.base_url}")
    monkeypatch.setenv("MIMIC_MASTER_API_KEY", MASTER_KEY)
    monkeypatch.setenv("MIMIC_MASTER_API_SECRET", MASTER_SECRET)
    main(["migrate"])
    main(["sources", "create", "own-account"])
    source_id = capsys.readouterr().out.strip().splitlines()[-2].split()[0]
    main(["sources", "attach", source_id, "--exchange", "binanceusdm", "--symbols", "BTCUSDT"])
    attached = capsys.readouterr().out
    assert attached.splitlines() == [
        f"{source_id}  binanceusdm  BTCUSDT  key mast...6789",
        "WARNING: the key can trade: Mimic only reads with it, use a read-only key",
    ]
    assert MASTER_SECRET not in attached
    with pytest.raises(SystemExit):  # one account per source
        main(["sources", "attach", source_id, "--exchange", "paper", "--symbols", "BTCUSDT"])
    assert "detach it first" in capsys.readouterr().err
    main(["sources", "detach", source_id])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["sources", "account", source_id])
    assert "has no exchange account" in capsys.readouterr().err
    # A source no signal came from is deleted with the account attached to it.
    main(["sources", "attach", source_id, "--exchange", "paper", "--symbols", "BTCUSDT"])
    main(["sources", "delete", source_id])
    assert capsys.readouterr().out.splitlines()[-1] == f"deleted {source_id}"


async def test_keys_rotate_re_encrypts_a_masters_keys_bound_to_their_source(
    database_url: str, stub: BinanceStub
) -> None:
    old_key, new_key = generate_key(), generate_key()
    settings = replace(settings_for(database_url, stub), master_keys=(old_key,))
    async with running_platform(settings) as api:
        created = await api.client.post(
            "/api/admin/sources", json={"name": "Own"}, headers=api.auth(api.admin_token)
        )
        source_id = created.json()["id"]
        attached = await api.client.put(
            f"/api/admin/sources/{source_id}/account",
            json={
                "exchange": "binanceusdm",
                "symbols": ["BTCUSDT"],
                "api_key": MASTER_KEY,
                "api_secret": MASTER_SECRET,
            },
            headers=api.auth(api.admin_token),
        )
        assert attached.status_code == 201, attached.text

    report = await rotate_keys(replace(settings, master_keys=(new_key, old_key)))
    assert (report.scanned, report.rotated, report.unreadable) == (1, 1, [])

    engine = create_engine(database_url)
    only_new = StoredCredentialVault(create_session_factory(engine), FernetSecretBox([new_key]))
    master = MasterAccount(
        attached.json()["id"], source_id, "binanceusdm", ("BTCUSDT",), datetime.now(UTC)
    )
    try:
        opened = await only_new.credentials_for(as_connection(master))
        assert opened == ApiCredentials(MASTER_KEY, MASTER_SECRET)
        # Sealed for its source and account: moved to another source, it does not open.
        async with engine.connect() as connection:
            token = (await connection.execute(select(master_accounts.c.credentials_token))).scalar()
        box = FernetSecretBox([new_key])
        assert box.open(token, user_id=master.owner, account_id=master.id) == opened
        with pytest.raises(SecretUnreadable):
            box.open(token, user_id=master_owner("another-source"), account_id=master.id)
    finally:
        await engine.dispose()


async def test_the_embedded_worker_reads_a_masters_account_on_its_own_timer(
    sqlite_url: str,
) -> None:
    """Nobody asks for a poll: within a few seconds the master's fill is copied anyway."""
    settings = make_settings(sqlite_url, master_poll_interval=timedelta(seconds=1))
    async with running_platform(settings) as api:
        await api.set_price("BTCUSDT", "40000")
        created = await api.client.post(
            "/api/admin/sources", json={"name": "Timed"}, headers=api.auth(api.admin_token)
        )
        source_id = created.json()["id"]
        attached = await api.client.put(
            f"/api/admin/sources/{source_id}/account",
            json={"exchange": "paper", "symbols": ["BTCUSDT"]},
            headers=api.auth(api.admin_token),
        )
        engine = create_engine(sqlite_url)
        master = PaperGateway(
            PaperVenue(async_sessionmaker(engine, expire_on_commit=False), SystemClock()),
            attached.json()["id"],
        )
        try:
            _, ann_acc = await api.follower("ann")
            await started_reading(engine, source_id)
            request = OrderRequest("BTCUSDT", OrderSide.BUY, Decimal("0.05"), "timed-open")
            await master.place_market_order(request)
            (fill,) = await master.fetch_fills(["BTCUSDT"], datetime.now(UTC) - timedelta(hours=1))
            signal_id = master_signal_id(source_id, fill.fill_id)
            deadline = asyncio.get_running_loop().time() + 15
            while (
                await api.client.get(f"/api/signals/{signal_id}", headers=api.auth(api.admin_token))
            ).status_code == 404:
                assert asyncio.get_running_loop().time() < deadline, "the fill was never read"
                await asyncio.sleep(0.1)
            # Ann chose no source: she follows every one, with multiplier 1 -> 0.050 BTC.
            report = await api.settled_report(signal_id)
            assert orders_by_account(report) == {ann_acc: [("entry", "buy", "0.05")]}
        finally:
            await engine.dispose()


async def started_reading(engine: AsyncEngine, source_id: str) -> None:
    """Waits for the timer's first read, which starts the cursor (copying starts there)."""
    deadline = asyncio.get_running_loop().time() + 15
    query = select(master_cursors.c.symbol).where(master_cursors.c.source_id == source_id)
    while True:
        async with engine.connect() as connection:
            if (await connection.execute(query)).first() is not None:
                return
        assert asyncio.get_running_loop().time() < deadline, "the account was never read"
        await asyncio.sleep(0.1)
