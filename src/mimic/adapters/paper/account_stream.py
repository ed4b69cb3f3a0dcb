"""The paper venue's account streams: one poller per process reads `paper_account_events`
(written in the venue's own transactions: each execution, each protective order placed or
cancelled) and hands each account's events to the sink that follows it in this process
(the holder): no task or queue per account, a held stream is an entry in a dict.

Postgres hands out `seq` at insert, not at commit: a transaction may commit after a later
one, and a rolled-back one leaves a gap forever. The poller therefore reads from the first
`seq` it has not seen and waits up to `gap_grace` for a missing one before it goes past it;
anything later than that is found by the holder's periodic reconciliation. Each poll reads
only the rows above the highest `seq` delivered and the missing ones below it: reading again
everything above the first gap (a fan-out's thousand transactions at once always leave one)
cost a worker more than recording the fills it read. Only the rows of accounts whose stream
this process holds become events.
"""

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Dialect, Row, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.paper.rows import FILL_EVENT_COLUMNS, Amounts, fill_event
from mimic.adapters.sqlalchemy.bulk import one_of
from mimic.adapters.sqlalchemy.statements import _chunks
from mimic.adapters.sqlalchemy.tables import (
    paper_account_events,
    paper_orders,
    paper_protective_orders,
)
from mimic.domain.account_events import AccountEvent, OrderEvent, StreamConnected
from mimic.domain.accounts import PAPER_EXCHANGE, ExchangeAccount
from mimic.ports.account_events import AccountEventFeed, AccountEventSink
from mimic.ports.services import Clock

log = logging.getLogger(__name__)

# Events older than this are deleted: a stream that was away longer reconciles by REST.
RETENTION = timedelta(hours=1)
PRUNE_EVERY_SECONDS = 60.0
# Missing seqs asked for by number, at most; beyond, everything above the first is read.
MISSING_BY_NUMBER = 500


class PaperAccountStream(AccountEventFeed):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        poll_interval: float = 0.25,
        gap_grace: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._poll_interval = poll_interval
        self._gap_grace = gap_grace
        self._sinks: dict[str, tuple[AccountEventSink, ...]] = {}  # by account id
        self._poller: asyncio.Task[None] | None = None
        # A worker follows all its accounts at once: they must share one poller.
        self._starting = asyncio.Lock()
        self._floor: int | None = None  # every seq up to here is delivered or given up
        self._top = 0  # the highest seq delivered
        self._seen: set[int] = set()  # delivered above the floor
        self._gaps: dict[int, float] = {}  # missing seq -> when first missed

    def supports(self, exchange: str) -> bool:
        return exchange == PAPER_EXCHANGE

    async def follow(self, account: ExchangeAccount, sink: AccountEventSink) -> None:
        await self._start()
        self._sinks[account.id] = (*self._sinks.get(account.id, ()), sink)
        sink.deliver(account.id, [StreamConnected(self._clock.now())])

    async def unfollow(self, account_id: str, sink: AccountEventSink) -> None:
        left = tuple(s for s in self._sinks.get(account_id, ()) if s is not sink)
        if left:
            self._sinks[account_id] = left
        else:
            self._sinks.pop(account_id, None)

    async def aclose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    async def _start(self) -> None:
        """The first account followed starts the poller from the newest event: what came
        before is the reconciliation's (each stream starts with `StreamConnected`)."""
        async with self._starting:
            if self._poller is not None:
                return
            if self._floor is None:
                async with self._sessions() as session:
                    newest = await session.scalar(select(func.max(paper_account_events.c.seq)))
                self._floor = int(newest or 0)
                self._top = self._floor
            self._poller = asyncio.create_task(self._poll_forever())

    async def _poll_forever(self) -> None:
        loop = asyncio.get_running_loop()
        pruned_at = loop.time()
        failing = False
        while True:
            try:
                await self.poll()
                if loop.time() - pruned_at > PRUNE_EVERY_SECONDS:
                    pruned_at = loop.time()
                    await self._prune()
                if failing:
                    failing = False
                    log.warning("paper account events read again")
            except Exception:  # the database is away: the next poll tries again
                # One traceback per outage, not four a second until it ends.
                log.warning("paper account events not read", exc_info=not failing)
                failing = True
            await asyncio.sleep(self._poll_interval)

    async def poll(self) -> int:
        """Deliver the events not seen yet; returns how many were delivered. The rows'
        numbers and accounts are read first; only the followed accounts' rows are read
        whole and become events (another worker's are only marked seen)."""
        e = paper_account_events.c
        async with self._sessions() as session:
            found = await session.execute(
                select(e.seq, e.account_id, e.order_id.is_not(None)).where(
                    self._unseen(session.get_bind().dialect)
                )
            )
            # Plain tuples: sorting rows compares them in Python, a fan-out's worth each poll.
            seen = self._seen
            new = sorted((seq, a, fill) for seq, a, fill in found if seq not in seen)
            followed = [(seq, fill) for seq, account_id, fill in new if account_id in self._sinks]
            events = await _events(session, followed)
        delivered = 0
        for seq, account_id, _ in new:
            self._seen.add(seq)
            event = events.get(seq)
            if event is None:
                continue  # not followed here (another worker's account)
            for sink in self._sinks.get(account_id, ()):
                try:
                    sink.deliver(account_id, [event])
                except Exception:  # the others' events are still theirs
                    log.exception("paper account event %d not delivered", seq)
                delivered += 1
        if new:
            self._top = max(self._top, new[-1][0])
        self._advance_floor()
        return delivered

    def _unseen(self, dialect: Dialect) -> ColumnElement[bool]:
        """The rows above the highest seq delivered, and the missing ones below it."""
        assert self._floor is not None
        seq = paper_account_events.c.seq
        missing = [s for s in range(self._floor + 1, self._top) if s not in self._seen]
        if len(missing) > MISSING_BY_NUMBER:
            return seq > self._floor
        return or_(seq > self._top, one_of(dialect, seq, missing))

    def _advance_floor(self) -> None:
        assert self._floor is not None
        now = asyncio.get_running_loop().time()
        while self._seen:
            following = self._floor + 1
            if following in self._seen:
                self._seen.discard(following)
            elif now - self._gaps.setdefault(following, now) <= self._gap_grace:
                return  # not committed yet, maybe: read from here again
            self._gaps.pop(following, None)
            self._floor = following

    async def _prune(self) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(paper_account_events).where(
                    paper_account_events.c.created_at < self._clock.now() - RETENTION
                )
            )


async def _events(session: AsyncSession, rows: list[tuple[int, bool]]) -> dict[int, AccountEvent]:
    """The events of these rows (seq, and whether a fill), by seq: each fill with its order,
    each protective order's change with the order."""
    e, o, p = paper_account_events.c, paper_orders.c, paper_protective_orders.c
    # One statement text for every chunk (`= ANY` on Postgres): an IN list of each chunk's
    # length is rendered, and prepared by the driver, anew.
    dialect = session.get_bind().dialect
    events: dict[int, AccountEvent] = {}
    amount = Amounts()
    for chunk in _chunks([seq for seq, fill in rows if fill]):
        fills = (
            select(*FILL_EVENT_COLUMNS)
            .join(paper_orders, o.id == e.order_id)
            .where(one_of(dialect, e.seq, chunk))
        )
        events.update(fill_event(row, amount) for row in await session.execute(fills))
    for chunk in _chunks([seq for seq, fill in rows if not fill]):
        protection = (
            select(e.seq, e.kind.label("event"), e.created_at.label("at"), paper_protective_orders)
            .join(paper_protective_orders, p.id == e.protective_order_id)
            .where(one_of(dialect, e.seq, chunk))
        )
        events.update((row.seq, _order_event(row)) for row in await session.execute(protection))
    return events


def _order_event(row: Row[Any]) -> OrderEvent:
    """A protective order placed or cancelled (its firing is the fill of its order)."""
    return OrderEvent(
        order_id=row.id,
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        status=row.event,
        at=row.at,
    )
