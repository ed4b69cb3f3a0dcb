"""Holding the account event streams of this process's share of the accounts.

Every refresh (a third of a lease period) the holder reads which accounts should be
streamed, renews its leases and takes free ones up to its share, stops the streams it no
longer holds and starts the new ones. Each stream's events are recorded as they come; the
fills of Mimic's own orders (a fan-out makes them by the thousand at once, and their
sender recorded the orders) of all streams together, one burst at a time. A stream that
(re)connects, and every held account every `reconcile_every`, is reconciled by REST from
where the last reconciliation started (a little before), so what a stream missed is still
recorded, once.
"""

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mimic.domain.account_events import (
    AccountEvent,
    FillEvent,
    StreamConnected,
    sent_by_mimic,
)
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import ExchangeError
from mimic.ports.account_events import AccountEventStream, AccountStreamWork, StreamLeases
from mimic.ports.metrics import Metrics
from mimic.ports.services import Clock

log = logging.getLogger(__name__)


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


@dataclass(slots=True)
class _Held:
    account: ExchangeAccount
    task: asyncio.Task[None]
    reconciled_from: datetime | None = None  # when the last good reconciliation started
    reconcile_at: datetime | None = None  # the next periodic one


class HoldAccountStreams:
    def __init__(
        self,
        streams: Sequence[AccountEventStream],
        leases: StreamLeases,
        work: AccountStreamWork,
        clock: Clock,
        metrics: Metrics,
        policy: StreamPolicy,
    ) -> None:
        self._streams = streams
        self._leases = leases
        self._work = work
        self._clock = clock
        self._metrics = metrics
        self._policy = policy
        self._held: dict[str, _Held] = {}
        self._retry_at: dict[str, datetime] = {}
        self._reconciling: set[asyncio.Task[None]] = set()
        # Database work in flight: a stream stopped meanwhile lets it finish (cancelled
        # halfway, a session's connection would be torn down mid-query).
        self._working: set[asyncio.Task[None]] = set()
        self._reconcile_slots = asyncio.Semaphore(policy.reconcile_concurrency)
        # Fills of Mimic's own orders waiting to be stored together, and their outcome.
        self._sent: list[tuple[ExchangeAccount, Sequence[FillEvent]]] = []
        self._sent_recorded: asyncio.Future[None] | None = None
        self._sent_flusher: asyncio.Task[None] | None = None

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
        accounts = {a.id: a for a in await self._work.accounts() if self._stream(a) is not None}
        wanted = {a for a in accounts if self._retry_at.get(a, now) <= now}
        kept = await self._leases.hold(wanted, [a for a in self._held if a in wanted])
        for account_id in [a for a in self._held if a not in kept]:
            await self._drop(account_id)
        for account_id in sorted(kept - set(self._held)):
            self._start(accounts[account_id])
        for item in self._held.values():
            if item.reconcile_at is not None and item.reconcile_at <= now:
                self._reconcile_soon(item)
        self._metrics.account_streams_held(len(self._held))

    async def stop(self) -> None:
        held = list(self._held)
        for account_id in held:
            await self._drop(account_id)
        await asyncio.gather(*self._reconciling, *self._working, return_exceptions=True)
        with contextlib.suppress(Exception):  # unreleased leases simply run out
            await self._leases.release(held)
        self._metrics.account_streams_held(0)

    def _stream(self, account: ExchangeAccount) -> AccountEventStream | None:
        return next((s for s in self._streams if s.supports(account.exchange)), None)

    def _start(self, account: ExchangeAccount) -> None:
        self._retry_at.pop(account.id, None)
        task = asyncio.create_task(self._follow(account), name=f"account-stream-{account.id}")
        self._held[account.id] = _Held(account, task)

    async def _drop(self, account_id: str) -> None:
        item = self._held.pop(account_id)
        item.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await item.task

    async def _follow(self, account: ExchangeAccount) -> None:
        stream = self._stream(account)
        assert stream is not None
        try:
            async for batch in stream.events(account):
                if any(isinstance(e, StreamConnected) for e in batch):
                    await self._reconcile(self._held[account.id])
                if any(isinstance(e, FillEvent) for e in batch):
                    await self._record(account, batch)
        except ExchangeError as exc:
            log.warning("account stream of %s ended: %s", account.id, exc.reason)
        except Exception:
            log.exception("account stream of %s failed", account.id)
        # Ended: started again after a while (if this worker still holds the account then).
        self._retry_at[account.id] = self._clock.now() + self._policy.retry_after
        self._held.pop(account.id, None)

    async def _record(self, account: ExchangeAccount, batch: Sequence[AccountEvent]) -> None:
        events = [e for e in batch if isinstance(e, FillEvent)]
        sent = [e for e in events if sent_by_mimic(e)]
        others = [e for e in events if not sent_by_mimic(e)]
        try:
            if sent:
                await self._record_sent(account, sent)
            if others:
                await self._finished(self._work.record(account, others))
        except Exception:
            # Not lost: the next refresh reconciles from before these events.
            log.exception("events of account %s not recorded", account.id)
            item = self._held.get(account.id)
            if item is not None:
                item.reconcile_at = self._clock.now()

    async def _record_sent(self, account: ExchangeAccount, events: Sequence[FillEvent]) -> None:
        """Joins the burst of sent orders' fills being gathered; returns once it is recorded
        (raises what recording it raised). A fan-out's fills reach many streams at once:
        they are stored in one unit of work, not one per account."""
        self._sent.append((account, events))
        if self._sent_recorded is None:
            self._sent_recorded = asyncio.get_running_loop().create_future()
            # Nobody may be left to hear a failure (their streams stopped): not an error.
            self._sent_recorded.add_done_callback(lambda f: f.cancelled() or f.exception())
        recorded = self._sent_recorded
        if self._sent_flusher is None:
            self._sent_flusher = asyncio.create_task(self._flush_sent())
            self._working.add(self._sent_flusher)
            self._sent_flusher.add_done_callback(self._working.discard)
        await asyncio.shield(recorded)

    async def _flush_sent(self) -> None:
        """One burst at a time: what arrives while one is stored makes the next."""
        try:
            while self._sent:
                await asyncio.sleep(0)  # the streams woken with the first join it first
                items, self._sent = self._sent, []
                recorded, self._sent_recorded = self._sent_recorded, None
                assert recorded is not None
                try:
                    await self._work.record_sent(items)
                except Exception as exc:
                    recorded.set_exception(exc)
                else:
                    recorded.set_result(None)
        finally:
            self._sent_flusher = None

    async def _finished(self, work: Coroutine[Any, Any, None]) -> None:
        """Runs `work` to its end even if the stream waiting for it is stopped."""
        task = asyncio.create_task(work)
        self._working.add(task)
        task.add_done_callback(self._working.discard)
        await asyncio.shield(task)

    def _reconcile_soon(self, item: _Held) -> None:
        item.reconcile_at = None  # not twice at once; set again when this one ends
        task = asyncio.create_task(self._reconcile(item))
        self._reconciling.add(task)
        task.add_done_callback(self._reconciling.discard)

    async def _reconcile(self, item: _Held) -> None:
        started = self._clock.now()
        if item.reconciled_from is None:
            since = started - self._policy.lookback
        else:
            since = item.reconciled_from - self._policy.overlap
        try:
            async with self._reconcile_slots:
                await self._finished(self._work.reconcile(item.account, since))
        except Exception as exc:
            reason = exc.reason if isinstance(exc, ExchangeError) else repr(exc)
            log.warning("account %s not reconciled: %s", item.account.id, reason)
            item.reconcile_at = started + self._policy.retry_after
            return
        item.reconciled_from = started
        item.reconcile_at = started + self._policy.reconcile_every
