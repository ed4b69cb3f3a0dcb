"""What must hold after every fault, read from the database and the exchange stub."""

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from mimic.adapters.sqlalchemy import tables
from mimic.domain.orders import IntentStatus
from tests.stubs.binance import BinanceStub

FINAL = {s.value for s in IntentStatus if s.is_final}


async def missing_signals(engine: AsyncEngine, acknowledged: Iterable[str]) -> set[str]:
    """The signals answered 202 that the database does not hold."""
    wanted = set(acknowledged)
    s = tables.signals.c
    async with engine.connect() as connection:
        found = {r.id for r in await connection.execute(select(s.id).where(s.id.in_(wanted)))}
    return wanted - found


async def unsettled(engine: AsyncEngine, eligible: set[str], since: datetime) -> dict[str, str]:
    """Every signal stored since `since` that is not done with one final outcome per
    eligible follower, with what is missing; empty when all are settled."""
    s, i = tables.signals.c, tables.order_intents.c
    async with engine.connect() as connection:
        query = select(s.id, s.status).where(s.received_at >= since)
        signals = {r.id: r.status for r in await connection.execute(query)}
        rows = await connection.execute(
            select(i.signal_id, i.account_id, i.status).where(i.signal_id.in_(signals))
        )
        outcomes: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for row in rows:
            outcomes[row.signal_id][row.account_id].append(row.status)
    problems = {}
    for signal_id, status in signals.items():
        accounts = outcomes.get(signal_id, {})
        pending = {a: st for a, st in accounts.items() if not set(st) <= FINAL}
        missing = eligible - set(accounts)
        strangers = set(accounts) - eligible
        if status != "done" or pending or missing or strangers:
            problems[signal_id] = (
                f"status={status} pending={len(pending)} missing={len(missing)} "
                f"not eligible={len(strangers)}"
            )
    return problems


async def wait_settled(
    engine: AsyncEngine, eligible: set[str], since: datetime, within: float
) -> None:
    deadline = time.monotonic() + within
    while problems := await unsettled(engine, eligible, since):
        if time.monotonic() > deadline:
            sample = dict(list(problems.items())[:5])
            raise AssertionError(f"{len(problems)} signals not settled in {within:.0f} s: {sample}")
        await asyncio.sleep(0.2)


def stub_orders(stub: BinanceStub) -> list[dict[str, object]]:
    """Every order the stub executed (its handlers run on another thread: copy first)."""
    return [
        order for account in list(stub.accounts.values()) for order in list(account.orders.values())
    ]


def client_ids_sent_twice(stub: BinanceStub) -> dict[str, int]:
    """Client order ids the stub executed more than once."""
    counts = Counter(str(o["clientOrderId"]) for o in stub_orders(stub))
    return {cid: n for cid, n in counts.items() if n > 1}


async def paper_client_ids_twice(engine: AsyncEngine) -> int:
    o = tables.paper_orders.c
    query = select(o.account_id, o.client_order_id).group_by(o.account_id, o.client_order_id)
    async with engine.connect() as connection:
        twice = await connection.execute(query.having(func.count() > 1))
        return len(twice.all())


async def first_order_at(
    engine: AsyncEngine, stub: BinanceStub, since: datetime, *, stub_only: bool
) -> datetime | None:
    """When the first order after `since` was placed, on the stub (or on paper too)."""
    at_ms = since.timestamp() * 1000
    times = [
        datetime.fromtimestamp(int(str(o["time"])) / 1000, since.tzinfo)
        for o in stub_orders(stub)
        if int(str(o["time"])) >= at_ms
    ]
    if not stub_only:
        o = tables.paper_orders.c
        async with engine.connect() as connection:
            query = select(func.min(o.created_at)).where(o.created_at >= since)
            first = (await connection.execute(query)).scalar()
        if first is not None:
            times.append(first)
    return min(times, default=None)
