"""A month of copy fidelity read back: GET /api/fidelity's work over many copies.

Seeds S signals each copied by F followers (S x F filled orders, plus one skipped order per
signal), then runs the interactor behind `GET /api/fidelity?period=30d` as an admin (every
follower's figures and the platform's) `--runs` times. Prints last:
    fidelity copies=N backend=B seconds_best=S seconds_median=M
with the best and median seconds of one report.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.processes import seed_followers

from bench.services import drop_postgres, fresh_postgres
from mimic.adapters.sqlalchemy import tables
from mimic.adapters.sqlalchemy.bulk import insert_rows
from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.sqlalchemy.fidelity import SqlFidelityReader
from mimic.adapters.sqlalchemy.migrations import upgrade
from mimic.adapters.sqlalchemy.signals import SqlSignalSourceRepository
from mimic.adapters.system import SystemClock
from mimic.application.copy_fidelity import RecentFidelity, ViewCopyFidelity
from mimic.domain.accounts import Role, User

SOURCE_ID = "bench-source"


def signal_row(number: int, received: datetime) -> dict[str, object]:
    return {
        "id": f"sig{number:08d}",
        "source_id": SOURCE_ID,
        "symbol": "BTCUSDT",
        "action": "long",
        "dedupe_key": f"id:{number}",
        "received_at": received,
        "status": "done",
        "reference_price": Decimal(65000),
        "reference_at": received,
    }


def intent_row(
    signal_id: str, account_id: str, user_id: str, received: datetime, n: int
) -> dict[str, object]:
    return {
        "id": uuid.uuid4().hex,
        "signal_id": signal_id,
        "account_id": account_id,
        "user_id": user_id,
        "leg": "entry",
        "symbol": "BTCUSDT",
        "side": "buy",
        "quantity": Decimal("0.01"),
        "reduce_only": False,
        "client_order_id": f"mimic-{n:028d}",
        "status": "filled",
        "attempts": 1,
        "average_price": Decimal(65000) + n % 50,
        "created_at": received,
        "acknowledged_at": received + timedelta(milliseconds=100 + n % 900),
    }


async def seed(database_url: str, signals: int, followers: int) -> int:
    engine = create_engine(database_url)
    try:
        accounts = await seed_followers(engine, followers, Decimal(10000))
        async with engine.connect() as connection:
            owners = dict(
                (
                    await connection.execute(
                        tables.exchange_accounts.select().with_only_columns(
                            tables.exchange_accounts.c.id, tables.exchange_accounts.c.user_id
                        )
                    )
                ).all()
            )
        sessions = create_session_factory(engine)
        start = datetime.now(UTC) - timedelta(days=29)
        step = timedelta(days=28) / signals
        async with sessions() as session:
            await session.execute(
                tables.signal_sources.insert().values(
                    id=SOURCE_ID, name="bench", passphrase_hash="0" * 64, active=True
                )
            )
            received = [start + n * step for n in range(signals)]
            rows = [signal_row(n, at) for n, at in enumerate(received)]
            await insert_rows(session, tables.signals, rows)
            n = 0
            for row, at in zip(rows, received, strict=True):
                signal_id = str(row["id"])
                intents = []
                for account in accounts:
                    n += 1
                    intents.append(intent_row(signal_id, account, owners[account], at, n))
                # One miss per signal, with its reason.
                skipped = {**intents[-1], "id": uuid.uuid4().hex, "leg": "close"}
                skipped.update(
                    status="skipped",
                    reason="below min notional",
                    average_price=None,
                    acknowledged_at=None,
                )
                await insert_rows(session, tables.order_intents, [*intents, skipped])
            await session.commit()
        return n
    finally:
        await engine.dispose()


async def measure(database_url: str, runs: int) -> list[float]:
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    admin = User(
        id="admin",
        username="admin",
        email="admin@example.com",
        password_hash="-",
        role=Role.ADMIN,
        created_at=datetime.now(UTC),
    )
    seconds = []
    try:
        for _ in range(runs):
            async with sessions() as session:
                # A fresh RecentFidelity per run: each run computes the report, none is kept.
                view = ViewCopyFidelity(
                    SqlFidelityReader(session),
                    SqlSignalSourceRepository(session),
                    SystemClock(),
                    RecentFidelity(),
                )
                began = time.perf_counter()
                report = await view(admin, "30d")
                seconds.append(time.perf_counter() - began)
                print(
                    f"report: copies={report.platform.copies} "
                    f"followers={len(report.followers)} p99={report.platform.latency_p99_ms} ms",
                    flush=True,
                )
    finally:
        await engine.dispose()
    return seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=100)
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.backend == "sqlite":
            database_url = f"sqlite+aiosqlite:///{folder}/fidelity.db"
        else:
            found = await fresh_postgres()
            if found is None:
                raise SystemExit("Postgres does not answer")
            database_url = found
        try:
            await asyncio.to_thread(upgrade, database_url)
            copies = await seed(database_url, args.signals, args.followers)
            seconds = await measure(database_url, args.runs)
        finally:
            if args.backend == "postgres":
                await drop_postgres(database_url)
    print(
        f"fidelity copies={copies} backend={args.backend} seconds_best={min(seconds):.3f} "
        f"seconds_median={statistics.median(seconds):.3f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
