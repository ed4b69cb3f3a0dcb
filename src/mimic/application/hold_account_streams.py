"""Holding the account event streams of this process's share of the accounts.

Every refresh (a third of a lease period) the holder reads which accounts should be
streamed, renews its leases and takes free ones up to its share, stops the streams it no
longer holds and starts the new ones. Each stream's events are recorded as they come; a
stream that (re)connects, and every held account every `reconcile_every`, is reconciled
by REST from where the last reconciliation started (a little before), so what a stream
missed is still recorded, once.

The holder is the sink its feeds tell each account's batches to: the paper venue's one
poller calls it directly, so a held paper stream is a few small objects (a task and a queue
per account were 6 KB each, 300 MB for a worker's 50,000); a Binance socket is read by a
task of its own (`StreamFeed`). A stream's fills wait for the recorder by account, not each
batch behind a future of its own: the fills of a fan-out's orders cost little more than
their one insert.
"""

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Coroutine, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from mimic.domain.account_events import AccountEvent, FillEvent, PositionEvent, StreamConnected
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import OrderIntent
from mimic.ports.account_events import (
    AccountEventFeed,
    AccountEventSink,
    AccountEventStream,
    AccountStreamWork,
    StreamLeases,
)
from mimic.ports.metrics import Metrics
from mimic.ports.services import Clock

log = logging.getLogger(__name__)

T = TypeVar("T")

RECORD_BATCH = 1000  # accounts' fills per unit of work, unless configured otherwise


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    reconcile_every: timedelta = timedelta(minutes=5)
    # A newly held account is reconciled this far back; later ones overlap the last.
    lookback: timedelta = timedelta(hours=1)
    overlap: timedelta = timedelta(minutes=1)
    # A stream that ended in an error (keys revoked, exchange down) is started again after.
    retry_after: timedelta = timedelta(seconds=30)
    # Reconciliations at once: a worker starting with thousands of streams reads their
    # history a few at a time, beside the fan-outs it also runs.
    reconcile_concurrency: int = 8
    # Accounts reconciled together: their positions' entries are read in one go (a worker
    # taking thousands of new streams reads the database a few times, not once each).
    reconcile_batch: int = 500
    # Streams' fills recorded in one unit of work at most: a burst (a market move firing
    # thousands of TPs) is recorded in a few transactions, not one per account.
    record_batch: int = RECORD_BATCH
    # A position the stream saw go flat with no fill of its own (missed, or none sent) is
    # reconciled after this long, unless the fill came meanwhile.
    flat_grace: timedelta = timedelta(seconds=2)


@dataclass(slots=True)
class _Held:
    account: ExchangeAccount
    feed: AccountEventFeed
    reconciled_from: datetime | None = None  # when the last good reconciliation started
    reconcile_at: datetime | None = None  # the next periodic one
    flat_unexplained: frozenset[str] = frozenset()  # symbols gone flat, no fill yet


class StreamFeed(AccountEventFeed):
    """An `AccountEventStream` followed with a task per account reading its batches: a
    venue whose streams are each a connection of their own anyway (Binance's sockets)."""

    def __init__(self, stream: AccountEventStream) -> None:
        self._stream = stream
        self._reading: dict[tuple[str, AccountEventSink], asyncio.Task[None]] = {}

    def supports(self, exchange: str) -> bool:
        return self._stream.supports(exchange)

    async def follow(self, account: ExchangeAccount, sink: AccountEventSink) -> None:
        self._reading[account.id, sink] = asyncio.create_task(
            self._read(account, sink), name=f"account-stream-{account.id}"
        )

    async def unfollow(self, account_id: str, sink: AccountEventSink) -> None:
        task = self._reading.pop((account_id, sink), None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _read(self, account: ExchangeAccount, sink: AccountEventSink) -> None:
        error: Exception | None = None
        try:
            async for batch in self._stream.events(account):
                sink.deliver(account.id, batch)
                await sink.recorded(account.id)
        except Exception as exc:
            error = exc
        del self._reading[account.id, sink]
        sink.ended(account.id, error)


class HoldAccountStreams(AccountEventSink):
    """Holds the streams and is their sink: each account's batches are dealt with as they
    come, with no task of its own per account."""

    def __init__(
        self,
        feeds: Sequence[AccountEventFeed],
        leases: StreamLeases,
        work: AccountStreamWork,
        clock: Clock,
        metrics: Metrics,
        policy: StreamPolicy,
    ) -> None:
        self._feeds = feeds
        self._feed_of: dict[str, AccountEventFeed | None] = {}  # by exchange
        self._leases = leases
        self._work = work
        self._clock = clock
        self._metrics = metrics
        self._policy = policy
        self._held: dict[str, _Held] = {}
        self._unreconciled = 0  # held streams never reconciled yet
        self._retry_at: dict[str, datetime] = {}
        # Accounts waiting to be reconciled; one reconciler takes them in batches.
        self._to_reconcile: dict[str, _Held] = {}
        # When held accounts are due their periodic reconciliation, soonest first: a
        # refresh looks at those due, not at every held account.
        self._due: list[tuple[datetime, str]] = []
        self._reconciler: asyncio.Task[None] | None = None
        self._settled = 0  # how many held streams were last reported settled
        self.settled = asyncio.Event()  # set once every held stream first settled
        # Database work in flight: a holder stopping lets it finish (cancelled halfway, a
        # session's connection would be torn down mid-query).
        self._working: set[asyncio.Task[Any]] = set()
        # Fills waiting to be recorded, by account: one recorder takes them in batches.
        self._pending: dict[str, tuple[ExchangeAccount, list[AccountEvent]]] = {}
        self._recording: set[str] = set()  # taken by the recorder, not recorded yet
        # Streams waiting for their account's fills to be recorded (see `recorded`).
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._recorder: asyncio.Task[None] | None = None

    @property
    def held(self) -> set[str]:
        return set(self._held)

    async def run(self) -> None:
        """Hold streams until cancelled; then stop them and give their leases up."""
        try:
            while True:
                try:
                    await self.refresh()
                except Exception:  # the database or Redis is away: the leases still run
                    log.warning("account streams not refreshed", exc_info=True)
                await asyncio.sleep(self._leases.period.total_seconds() / 3)
        finally:
            await self.stop()

    async def refresh(self) -> None:
        now = self._clock.now()
        wanted = self._wanted(await self._work.streamed(), now)
        kept = await self._leases.hold(wanted, self._held.keys() & wanted)
        for account_id in self._held.keys() - kept:
            await self._drop(account_id)
        new = kept - self._held.keys()
        if new:  # read whole only when taken; one gone meanwhile: its lease runs out
            for account in sorted(await self._work.accounts(new), key=lambda a: a.id):
                await self._start(account)
        while self._due and self._due[0][0] <= now:
            account_id = heapq.heappop(self._due)[1]
            item = self._held.get(account_id)  # stale entries (dropped, moved) are skipped
            if item is not None and item.reconcile_at is not None and item.reconcile_at <= now:
                self._reconcile_soon(item)
        self._metrics.account_streams_held(len(self._held))

    def _wanted(self, streamed: dict[str, str], now: datetime) -> AbstractSet[str]:
        """The listed accounts this holder has a feed for, less those waiting to be retried:
        set operations, not a step per account (100,000 of them, every refresh)."""
        unfed = {e for e in set(streamed.values()) if self._feed(e) is None}
        wanted: AbstractSet[str] = streamed.keys()
        if unfed:
            wanted = {a for a, exchange in streamed.items() if exchange not in unfed}
        retrying = {a for a, at in self._retry_at.items() if at > now}
        return wanted - retrying if retrying else wanted

    async def stop(self) -> None:
        held = list(self._held)
        for account_id in held:
            await self._drop(account_id)
        reconciling = [self._reconciler] if self._reconciler is not None else []
        await asyncio.gather(*reconciling, *self._working, return_exceptions=True)
        with contextlib.suppress(Exception):  # unreleased leases simply run out
            await self._leases.release(held)
        self._metrics.account_streams_held(0)

    def deliver(self, account_id: str, events: Sequence[AccountEvent]) -> None:
        item = self._held.get(account_id)
        if item is None:
            return  # dropped meanwhile: another holder's now
        if any(isinstance(e, StreamConnected) for e in events):
            # Beside the stream, not before it: what the stream reports meanwhile is
            # recorded at once (both record once), however long the exchange makes the
            # reconciliation wait (thousands reconnecting at once).
            self._reconcile_soon(item)
        self._watch_flat(item, events)
        fills = [e for e in events if isinstance(e, FillEvent)]
        if fills:
            self._pending.setdefault(account_id, (item.account, []))[1].extend(fills)
            if self._recorder is None or self._recorder.done():
                self._recorder = self._track(self._record_pending())

    async def recorded(self, account_id: str) -> None:
        if account_id not in self._pending and account_id not in self._recording:
            return
        waiting = self._waiting.get(account_id)
        if waiting is None:
            waiting = self._waiting[account_id] = asyncio.get_running_loop().create_future()
        await waiting

    def ended(self, account_id: str, error: Exception | None) -> None:
        """Started again after a while (if this holder still holds the account then)."""
        if isinstance(error, ExchangeError):
            log.warning("account stream of %s ended: %s", account_id, error.reason)
        elif error is not None:
            log.error("account stream of %s failed", account_id, exc_info=error)
        self._retry_at[account_id] = self._clock.now() + self._policy.retry_after
        self._forget(account_id)

    def _feed(self, exchange: str) -> AccountEventFeed | None:
        if exchange not in self._feed_of:
            self._feed_of[exchange] = next((f for f in self._feeds if f.supports(exchange)), None)
        return self._feed_of[exchange]

    async def _start(self, account: ExchangeAccount) -> None:
        feed = self._feed(account.exchange)
        assert feed is not None
        self._retry_at.pop(account.id, None)
        self._held[account.id] = _Held(account, feed)
        self._unreconciled += 1
        try:
            await feed.follow(account, self)
        except Exception as exc:  # the venue is away: as a stream that ended at once
            self.ended(account.id, exc)

    async def _drop(self, account_id: str) -> None:
        item = self._forget(account_id)
        if item is not None:
            await item.feed.unfollow(account_id, self)

    def _forget(self, account_id: str) -> _Held | None:
        item = self._held.pop(account_id, None)
        if item is not None and item.reconciled_from is None:
            self._unreconciled -= 1
        return item

    async def _record_pending(self) -> None:
        """Records the waiting fills a batch at a time until none wait (an account whose
        fills fail is reconciled at the next refresh: from before them, so none is lost).
        The protection left on the positions found flat is released once none wait, apart:
        it waits on the exchanges (and the request weight left), recording does not."""
        flat: list[tuple[ExchangeAccount, OrderIntent]] = []
        while self._pending:
            ids = list(itertools.islice(self._pending, self._policy.record_batch))
            taken = [self._pending.pop(account_id) for account_id in ids]
            self._recording.update(ids)
            try:
                left_flat, failed = await self._work.record(taken)
            except Exception as exc:  # no unit of work to be had (the database away)
                left_flat, failed = [], {account.id: exc for account, _ in taken}
            finally:
                self._recording.difference_update(ids)
                for account_id in ids:
                    waiting = self._waiting.pop(account_id, None)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(None)
            flat += left_flat
            for account_id, error in failed.items():
                log.error("events of account %s not recorded", account_id, exc_info=error)
                item = self._held.get(account_id)
                if item is not None:
                    self._reconcile_at(item, self._clock.now())
        if flat:
            self._track(self._release(flat))

    async def _release(self, flat: list[tuple[ExchangeAccount, OrderIntent]]) -> None:
        try:
            await self._work.release(flat)
        except Exception:
            log.exception("protection of %d flat positions not released", len(flat))

    def _track(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Database work that a stopping holder lets finish (see _working)."""
        task = asyncio.create_task(work)
        self._working.add(task)
        task.add_done_callback(self._working.discard)
        return task

    def _watch_flat(self, item: _Held, batch: Sequence[AccountEvent]) -> None:
        """A position that went flat is explained by a fill on its symbol (in this batch
        or soon after: Binance tells the position just before the fill); if none comes
        within `flat_grace`, the account is reconciled: what closed it is then recorded."""
        flat = {e.symbol for e in batch if isinstance(e, PositionEvent) and e.quantity == 0}
        if not flat and not item.flat_unexplained:
            return
        filled = {e.fill.symbol for e in batch if isinstance(e, FillEvent)}
        item.flat_unexplained = (item.flat_unexplained | flat) - filled
        if flat & item.flat_unexplained:
            asyncio.get_running_loop().call_later(
                self._policy.flat_grace.total_seconds(), self._unexplained_flat, item
            )

    def _unexplained_flat(self, item: _Held) -> None:
        if item.flat_unexplained and self._held.get(item.account.id) is item:
            log.info(
                "account %s: %s went flat with no fill seen; reconciling",
                item.account.id,
                ", ".join(sorted(item.flat_unexplained)),
            )
            item.flat_unexplained = frozenset()
            self._reconcile_soon(item)

    def _reconcile_at(self, item: _Held, at: datetime) -> None:
        item.reconcile_at = at
        heapq.heappush(self._due, (at, item.account.id))

    def _reconcile_soon(self, item: _Held) -> None:
        item.reconcile_at = None  # not twice at once; set again when this one ends
        self._to_reconcile[item.account.id] = item
        if self._reconciler is None or self._reconciler.done():
            self._reconciler = asyncio.create_task(self._reconcile_pending())

    async def _reconcile_pending(self) -> None:
        """Reconciles the waiting accounts a batch at a time until none wait (those whose
        stream was dropped meanwhile are another holder's now)."""
        while self._to_reconcile:
            ids = list(self._to_reconcile)[: self._policy.reconcile_batch]
            taken = [self._to_reconcile.pop(account_id) for account_id in ids]
            taken = [item for item in taken if self._held.get(item.account.id) is item]
            if not taken:
                continue
            started = self._clock.now()
            try:
                # Runs to its end even if the holder is stopped meanwhile.
                failed = await asyncio.shield(
                    self._track(
                        self._work.reconcile(
                            [(item.account, self._since(item, started)) for item in taken],
                            self._policy.reconcile_concurrency,
                        )
                    )
                )
            except Exception as exc:
                failed = {item.account.id: exc for item in taken}
            for item in taken:
                error = failed.get(item.account.id)
                if error is None:
                    if item.reconciled_from is None and self._held.get(item.account.id) is item:
                        self._unreconciled -= 1
                    item.reconciled_from = started
                    self._reconcile_at(item, started + self._policy.reconcile_every)
                    continue
                reason = error.reason if isinstance(error, ExchangeError) else repr(error)
                log.warning("account %s not reconciled: %s", item.account.id, reason)
                self._reconcile_at(item, started + self._policy.retry_after)
            self._report_settled()

    def _since(self, item: _Held, now: datetime) -> datetime:
        if item.reconciled_from is None:
            return now - self._policy.lookback
        return item.reconciled_from - self._policy.overlap

    def _report_settled(self) -> None:
        """Says once when every held stream has connected and been reconciled (a worker
        that took new accounts is then as it is during a signal)."""
        held = len(self._held)
        if held == self._settled or self._to_reconcile or self._unreconciled:
            return
        self._settled = held
        self.settled.set()
        log.info("account streams settled: %d held, each reconciled", held)
