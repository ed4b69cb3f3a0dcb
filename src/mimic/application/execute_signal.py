import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from mimic.application import work_context
from mimic.application.fanout_placing import LEG_ORDER, FanoutPlacer
from mimic.application.guardrails import DailyGuardrails
from mimic.application.live_updates import settled_order_events
from mimic.application.payment_settings import SubscriptionGate
from mimic.application.position_protection import PositionProtection
from mimic.application.signal_planning import (
    COPYING_PAUSED_REASON,
    ExecutionPolicy,
    ExecutionSummary,
    FirstMark,
    SignalPlanner,
)
from mimic.application.sweep_signals import enqueue_unfinished_parts
from mimic.domain.accounts import ExchangeAccount, User
from mimic.domain.errors import ExchangeError, InvalidField
from mimic.domain.fanout import FanoutPart
from mimic.domain.ids import new_ids
from mimic.domain.notifications import order_notifications
from mimic.domain.orders import (
    OrderIntent,
    OrderLeg,
    client_order_id,
)
from mimic.domain.planning import PlannedLeg
from mimic.domain.protection import protection_percentages
from mimic.domain.signal import Signal, SignalAction, SignalStatus
from mimic.ports.exchange import ExchangeGateways
from mimic.ports.live_events import LiveEvents
from mimic.ports.notifications import NotificationOutbox
from mimic.ports.protection import PriceFeeds
from mimic.ports.repositories import (
    ExchangeAccountRepository,
    OrderIntentRepository,
    SettingsRepository,
    SignalRepository,
    SourceFollowRepository,
    TransactionManager,
)
from mimic.ports.services import Clock, SignalQueue

log = logging.getLogger(__name__)


class CandidatePages:
    """A part's connections with no intent of the signal yet, read a page at a time in
    creation order: the first orders need not wait for a read of every follower, and a
    worker holds no more of them than it plans at once."""

    def __init__(
        self,
        accounts: ExchangeAccountRepository,
        tx: TransactionManager,
        share: FanoutPart,
        existing: Sequence[OrderIntent],
        read: dict[str, ExchangeAccount],
    ) -> None:
        self._accounts = accounts
        self._tx = tx
        self._share = share
        self._planned = {i.account_id for i in existing}
        self._read = read
        self._after: ExchangeAccount | None = None
        self._done = False

    async def next(self, limit: int) -> list[tuple[ExchangeAccount, User]]:
        """Up to `limit` more (fewer when some have intents already); [] once all are read.
        Each one read is added to `read`."""
        while not self._done:
            page = await self._accounts.list_copy_candidates(
                part=self._share, after=self._after, limit=limit
            )
            await self._tx.commit()  # end the read: no connection held while planning
            self._done = len(page) < limit
            if page:
                self._after = page[-1][0]
            fresh = [(a, u) for a, u in page if a.id not in self._planned]
            if fresh:
                self._read.update((account.id, account) for account, _ in fresh)
                return fresh
        return []


class ExecuteSignal:
    """Worker side of the fan-out: plan, store and place a batch of accounts at a time,
    the next batch planned and stored while the orders of one are in flight.

    Re-running it for the same signal is safe at any point: intents are unique per
    (signal, account, leg), an intent is placed only by the worker holding its lease, and an
    intent that may already exist on the exchange is looked up by its client order id
    before anything is sent again.
    """

    def __init__(
        self,
        signals: SignalRepository,
        accounts: ExchangeAccountRepository,
        intents: OrderIntentRepository,
        settings: SettingsRepository,
        gateways: ExchangeGateways,
        tx: TransactionManager,
        clock: Clock,
        policy: ExecutionPolicy,
        subscription_gate: SubscriptionGate,
        protection: PositionProtection,
        guardrails: DailyGuardrails,
        outbox: NotificationOutbox,
        queue: SignalQueue,
        live: LiveEvents,
        follows: SourceFollowRepository,
        feeds: PriceFeeds,
    ) -> None:
        self._signals = signals
        self._accounts = accounts
        self._intents = intents
        self._settings = settings
        self._tx = tx
        self._clock = clock
        self._policy = policy
        self._guardrails = guardrails
        self._outbox = outbox
        self._queue = queue
        self._live = live
        self._placer = FanoutPlacer(gateways, protection, clock, policy.concurrency)
        self._feeds = feeds
        self._planner = SignalPlanner(
            settings, gateways, tx, clock, policy, subscription_gate, guardrails, follows
        )

    async def __call__(self, signal_id: str, part: int = 0) -> ExecutionSummary:
        """Runs part `part` of the signal's fan-out: the connections that part holds."""
        signal = await self._signals.get(signal_id)
        if signal is None or signal.status is SignalStatus.DONE or part in signal.finished_parts:
            return ExecutionSummary(signal_id, {}, finished=True)
        work_context.working_on_signal(signal.id, signal.received_at)
        try:
            share = FanoutPart(part, signal.fanout_parts)
        except InvalidField:
            log.error("signal %s has no fan-out part %s; nothing to run", signal_id, part)
            return ExecutionSummary(signal_id, {}, finished=True)
        if await self._signals.has_unfinished_before(signal):
            # One source's signals on one symbol run in the order they arrived: a close and
            # an entry sent on the same bar must not both read the same position. The later
            # one is parked, holding no worker slot; whoever finishes the earlier requeues it.
            await self._tx.commit()
            log.info(
                "signal %s parked behind an earlier one on %s", signal_id, signal.params.symbol
            )
            return ExecutionSummary(signal_id, {}, finished=False)
        if signal.status is SignalStatus.RECEIVED:
            await self._signals.set_status(signal_id, SignalStatus.PROCESSING)
            await self._tx.commit()
        # Connections read by this run: those planned now are not read again to place.
        accounts: dict[str, ExchangeAccount] = {}
        existing = await self._intents.list_for_signal(signal.id, part=share)
        # Read once; each batch then updates its own entries (no re-read per batch).
        known = {i.id: i for i in existing}
        # Held by another worker, or unsettled here: retried later (lookup first), not now.
        not_now: set[str] = set()
        pages = CandidatePages(self._accounts, self._tx, share, existing, accounts)
        await self._plan_store_and_place(signal, pages, known, not_now, accounts)
        while True:  # intents planned before: claimed a batch at a time
            todo = [
                i.id
                for i in sorted(known.values(), key=lambda i: LEG_ORDER[i.leg])
                if not i.status.is_final and i.id not in not_now
            ][: self._policy.claim_batch]
            if not todo:
                break
            now = self._clock.now()
            deadline = self._send_deadline()
            claimed = await self._intents.claim(todo, now=now, lease_until=now + self._policy.lease)
            await self._tx.commit()
            known.update((i.id, i) for i in claimed)
            not_now.update(set(todo) - {i.id for i in claimed})
            if claimed:
                await self._read_accounts(claimed, accounts)
                to_place = await self._unless_paused(claimed)
                await self._tx.commit()  # end the read: no connection held while placing
                await self._placer(
                    to_place, list(known.values()), deadline, accounts, self._expiry(signal)
                )
                await self._save(claimed, not_now)
        intents = list(known.values())
        if intents and all(i.status.is_final for i in intents):
            # Settled as this run sees them; but another run may have stored some of the
            # part's intents first (this one's inserts lost the race to them) and still
            # hold them: only the database knows the whole part.
            finished = not await self._intents.has_unsettled(signal_id, part=share)
        else:
            # Others may have finished them; or another run stored this part's intents
            # first, so this one holds none: its view is empty.
            intents = await self._intents.list_for_signal(signal_id, part=share)
            finished = all(i.status.is_final for i in intents)
        counts: dict[str, int] = defaultdict(int)
        for intent in intents:
            counts[intent.status.value] += 1
        if finished:
            done = await self._signals.finish_part(signal_id, share)  # the last part: done
            await self._tx.commit()
            if done:
                await self._resume_next_in_line(signal)
        return ExecutionSummary(signal_id, dict(counts), finished)

    async def _resume_next_in_line(self, signal: Signal) -> None:
        """Queues the signal parked behind this one (a lost kick: the sweeper re-drives it)."""
        following = await self._signals.first_unfinished(signal.source_id, signal.params.symbol)
        await self._tx.commit()
        if following is not None:
            await enqueue_unfinished_parts(self._queue, following)

    async def _unless_paused(self, claimed: list[OrderIntent]) -> list[OrderIntent]:
        """Entries planned before the panic switch paused copying are not sent after it."""
        if not await self._settings.copying_paused():
            return claimed
        now = self._clock.now()
        for intent in claimed:
            if intent.leg is OrderLeg.ENTRY:
                intent.skip(COPYING_PAUSED_REASON, now)
        return [i for i in claimed if not i.status.is_final]

    async def _notify_settled(self, intents: Sequence[OrderIntent]) -> None:
        """Outbox rows for the intents that just became final, in the same transaction.

        One bulk insert; the worker's sender delivers them, batched per follower.
        """
        notifications = order_notifications(intents, self._clock.now())
        if notifications:
            await self._outbox.add_many(notifications)

    async def _plan(
        self,
        signal: Signal,
        candidates: Sequence[tuple[ExchangeAccount, User]],
        first_mark: FirstMark,
    ) -> list[OrderIntent]:
        """The intents of a batch of accounts, not stored yet; the guardrail days it
        observed are saved. The first batch that reads a price sets the signal's
        reference (a close reads the price feed meanwhile: positions carry no price)."""
        wants_reference = signal.reference_price is None and not first_mark.seen
        from_feed = None
        if wants_reference and signal.params.action is SignalAction.CLOSE:
            from_feed = asyncio.ensure_future(self._feed_price(signal, candidates[0][0]))
        try:
            plans, guard = await self._planner.plan_accounts(signal, candidates, first_mark)
            if from_feed is not None and not first_mark.seen:
                first_mark.saw(*await from_feed)
        finally:
            if from_feed is not None:
                from_feed.cancel()  # not needed (or planning failed): no read left behind
        if wants_reference and first_mark.price is not None and first_mark.at:
            await self._signals.set_reference(signal.id, first_mark.price, first_mark.at)
        trips = await self._guardrails.save(guard)
        await self._tx.commit()
        await self._guardrails.announce(trips)
        ids = iter(new_ids(sum(len(p.legs) for p in plans)))
        return [i for p in plans for i in self._to_intents(signal, p.account, p.user, p.legs, ids)]

    async def _feed_price(
        self, signal: Signal, account: ExchangeAccount
    ) -> tuple[Decimal | None, datetime]:
        """The symbol's price from the price feed of `account`'s exchange, if it has one."""
        feed = self._feeds.for_exchange(account.exchange)
        symbol = signal.params.symbol
        price = None
        if feed is not None:
            try:
                await feed.subscribe([symbol])
                price = (await feed.latest([symbol])).get(symbol)
            except ExchangeError as exc:
                log.info("no reference price for signal %s: %s", signal.id, exc.reason)
        return price, self._clock.now()

    async def _plan_store_and_place(
        self,
        signal: Signal,
        pages: CandidatePages,
        known: dict[str, OrderIntent],
        not_now: set[str],
        accounts: Mapping[str, ExchangeAccount],
    ) -> None:
        """Reads, plans, stores and sends new intents, a batch of accounts at a time: the
        first orders go out once the first batch, a small one, is read and planned, not once
        every account is.

        Each batch is stored (and held by this worker) before any of its orders is sent.
        While a batch's orders are in flight, the session saves the results of the batch
        before, and the next batch is read, planned and stored. Every connection of a batch
        is in `accounts` before it is planned: placing reads nothing from the database.
        """
        size = self._policy.claim_batch
        batch = await pages.next(min(self._policy.first_batch, size))
        if not batch:
            return
        first_mark = FirstMark()
        stored: tuple[list[OrderIntent], float] | None = await self._store(
            await self._plan(signal, batch, first_mark)
        )
        placed: list[OrderIntent] = []  # sent, results not saved yet
        while stored is not None:
            held, deadline = stored
            known.update((i.id, i) for i in held)
            pending = [i for i in held if not i.status.is_final]
            to_send = await self._unless_paused(pending)
            # A new account's legs are all in its batch: the placer looks at no other
            # (all of `known` each batch would cost a fan-out time quadratic in its size).
            sending = asyncio.ensure_future(
                self._placer(to_send, held, deadline, accounts, self._expiry(signal))
            )
            try:
                await self._save(placed, not_now)
                batch = await pages.next(size)
                stored = None
                if batch:
                    stored = await self._store(await self._plan(signal, batch, first_mark))
            finally:
                await sending  # also when saving or storing failed: no order is left in flight
            placed = pending
        await self._save(placed, not_now)

    async def _store(self, intents: Sequence[OrderIntent]) -> tuple[list[OrderIntent], float]:
        """Inserts new intents, held by this worker as if claimed.

        Returns those inserted (an account planned meanwhile by another worker is that
        worker's) and the time to send them by.
        """
        deadline = self._send_deadline()
        lease_until = self._clock.now() + self._policy.lease
        inserted = await self._intents.add_new(intents, lease_until=lease_until)
        stored = [i for i in intents if i.id in inserted]
        await self._notify_settled(stored)  # those skipped while planning
        await self._tx.commit()
        await self._live.publish_many(settled_order_events(stored))
        return stored, deadline

    async def _save(self, intents: Sequence[OrderIntent], not_now: set[str]) -> None:
        await self._intents.save_results(intents)
        await self._notify_settled(intents)
        await self._tx.commit()
        await self._live.publish_many(settled_order_events(intents))
        not_now.update(i.id for i in intents if not i.status.is_final)

    def _send_deadline(self) -> float:
        """An order is sent only while enough of a lease taken now is left (monotonic)."""
        usable = self._policy.lease - self._policy.send_margin
        return time.monotonic() + usable.total_seconds()

    def _to_intents(
        self,
        signal: Signal,
        account: ExchangeAccount,
        user: User,
        legs: list[PlannedLeg],
        ids: Iterator[str],
    ) -> list[OrderIntent]:
        now = self._clock.now()
        intents = []
        tp_perc, sl_perc = protection_percentages(
            signal.params.tp_perc, signal.params.sl_perc, user.protection
        )
        for leg in legs:
            intent = OrderIntent(
                id=next(ids),
                signal_id=signal.id,
                account_id=account.id,
                user_id=user.id,
                leg=leg.leg,
                symbol=signal.params.symbol,
                side=leg.side,
                quantity=leg.quantity,
                reduce_only=leg.reduce_only,
                leverage=leg.leverage,
                client_order_id=client_order_id(signal.id, account.id, leg.leg),
                created_at=now,
                updated_at=now,
            )
            if leg.leg is OrderLeg.ENTRY:
                intent.tp_perc, intent.sl_perc = tp_perc, sl_perc
            if leg.skip_reason is None:
                intent.hold_for_sending(now)
            else:
                intent.skip(leg.skip_reason, now)
            intents.append(intent)
        return intents

    async def _read_accounts(
        self, intents: Sequence[OrderIntent], accounts: dict[str, ExchangeAccount]
    ) -> None:
        missing = {i.account_id for i in intents} - accounts.keys()
        if missing:
            accounts.update((a.id, a) for a in await self._accounts.get_many(missing))

    def _expiry(self, signal: Signal) -> Callable[[], str | None]:
        """Why an order of `signal` must not be sent any more (None while it may)."""
        age = self._policy.max_signal_age
        reason = f"signal expired before the order could be sent (older than {age})"
        return lambda: reason if self._planner.expired(signal) else None
