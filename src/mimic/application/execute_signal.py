import asyncio
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from mimic.domain.accounts import ExchangeAccount, User
from mimic.domain.errors import ExchangeError, OutcomeUnknown
from mimic.domain.market import MarketRules
from mimic.domain.notifications import order_notifications
from mimic.domain.orders import (
    IntentStatus,
    OrderIntent,
    OrderLeg,
    OrderRequest,
    client_order_id,
)
from mimic.domain.planning import PlannedLeg, plan_account_orders, skip_account
from mimic.domain.risk import PlatformRiskSettings, resolve_risk
from mimic.domain.signal import Signal, SignalAction, SignalStatus
from mimic.ports.exchange import ExchangeGateway, ExchangeGateways
from mimic.ports.notifications import NotificationOutbox
from mimic.ports.repositories import (
    ExchangeAccountRepository,
    OrderIntentRepository,
    SettingsRepository,
    SignalRepository,
    TransactionManager,
)
from mimic.ports.services import Clock

log = logging.getLogger(__name__)

_LEG_ORDER = {OrderLeg.CLOSE: 0, OrderLeg.ENTRY: 1}
COPYING_PAUSED_REASON = "copying is paused for everyone (panic switch)"


@dataclass(frozen=True, slots=True)
class ExecutionPolicy:
    concurrency_per_exchange: int = 64
    # Exchanges that take more at once, e.g. the paper venue, which batches what it gets.
    concurrency_overrides: Mapping[str, int] = field(default_factory=dict)
    claim_batch: int = 1000
    lease: timedelta = timedelta(seconds=60)
    # An order is only sent while this much of its lease is left, so that no other worker
    # can take the intent over while the request is in flight.
    send_margin: timedelta = timedelta(seconds=20)
    max_signal_age: timedelta = timedelta(minutes=5)
    order_wait: timedelta = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class ExecutionSummary:
    signal_id: str
    counts: dict[str, int]
    finished: bool


class ExecuteSignal:
    """Worker side of the fan-out: plan every eligible account, then place concurrently.

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
        outbox: NotificationOutbox,
    ) -> None:
        self._signals = signals
        self._accounts = accounts
        self._intents = intents
        self._settings = settings
        self._gateways = gateways
        self._tx = tx
        self._clock = clock
        self._policy = policy
        self._outbox = outbox

    async def __call__(self, signal_id: str) -> ExecutionSummary:
        signal = await self._signals.get(signal_id)
        if signal is None or signal.status is SignalStatus.DONE:
            return ExecutionSummary(signal_id, {}, finished=True)
        if not await self._earlier_signals_settled(signal):
            return ExecutionSummary(signal_id, {}, finished=False)
        if signal.status is SignalStatus.RECEIVED:
            await self._signals.set_status(signal_id, SignalStatus.PROCESSING)
            await self._tx.commit()
        existing, held = await self._plan_new_accounts(signal)
        # Read once; each batch then updates its own entries (no re-read per batch).
        known = {i.id: i for i in [*existing, *held]}
        # Held by another worker, or unsettled here: retried later (lookup first), not now.
        not_now: set[str] = set()
        claimed = [i for i in held if not i.status.is_final]  # planned here: ours already
        while True:
            if not claimed:
                todo = [
                    i.id
                    for i in sorted(known.values(), key=lambda i: _LEG_ORDER[i.leg])
                    if not i.status.is_final and i.id not in not_now
                ][: self._policy.claim_batch]
                if not todo:
                    break
                now = self._clock.now()
                claimed = await self._intents.claim(
                    todo, now=now, lease_until=now + self._policy.lease
                )
                await self._tx.commit()
                known.update((i.id, i) for i in claimed)
                not_now.update(set(todo) - {i.id for i in claimed})
                if not claimed:
                    continue
            usable = self._policy.lease - self._policy.send_margin
            deadline = time.monotonic() + usable.total_seconds()
            to_place = await self._unless_paused(claimed)
            await self._place(signal, to_place, list(known.values()), deadline)
            await self._intents.save_results(claimed)
            await self._notify_settled(claimed)
            await self._tx.commit()
            not_now.update(i.id for i in claimed if not i.status.is_final)
            claimed = []
        intents = list(known.values())
        if not all(i.status.is_final for i in intents):
            intents = await self._intents.list_for_signal(signal_id)  # others may have finished
        counts: dict[str, int] = defaultdict(int)
        for intent in intents:
            counts[intent.status.value] += 1
        finished = all(i.status.is_final for i in intents)
        if finished:
            await self._signals.set_status(signal_id, SignalStatus.DONE)
            await self._tx.commit()
        return ExecutionSummary(signal_id, dict(counts), finished)

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

    async def _earlier_signals_settled(self, signal: Signal) -> bool:
        """Signals of one source on one symbol run in the order they arrived.

        A close and a new entry sent on the same bar must not race: both would read the
        same position. A later signal waits (a bounded time; then the sweeper re-drives it).
        """
        deadline = time.monotonic() + self._policy.order_wait.total_seconds()
        while await self._signals.has_unfinished_before(signal):
            await self._tx.commit()  # end the read transaction so the next poll sees news
            if time.monotonic() >= deadline:
                log.info(
                    "signal %s waits for an earlier signal on %s", signal.id, signal.params.symbol
                )
                return False
            await asyncio.sleep(0.05)
        return True

    def _expired(self, signal: Signal) -> bool:
        return self._clock.now() - signal.received_at > self._policy.max_signal_age

    async def _plan_new_accounts(
        self, signal: Signal
    ) -> tuple[list[OrderIntent], list[OrderIntent]]:
        """(intents planned before, intents planned now and held by this worker)."""
        existing = await self._intents.list_for_signal(signal.id)
        planned = {i.account_id for i in existing}
        candidates = [
            (a, u) for a, u in await self._accounts.list_copy_candidates() if a.id not in planned
        ]
        if not candidates:
            return existing, []
        platform = await self._settings.get_platform_risk()
        limits = self._limits()
        rules_cache: dict[tuple[str, str], MarketRules] = {}
        entries_paused = (
            signal.params.action is not SignalAction.CLOSE and await self._settings.copying_paused()
        )

        async def plan_one(account: ExchangeAccount, user: User) -> list[OrderIntent]:
            if entries_paused:
                legs = [skip_account(signal.params.action, COPYING_PAUSED_REASON)]
                return self._to_intents(signal, account, user, legs)
            async with limits[account.exchange]:
                legs = await self._plan_legs(signal, account, user, platform, rules_cache)
            return self._to_intents(signal, account, user, legs)

        planned_lists = await asyncio.gather(*(plan_one(a, u) for a, u in candidates))
        new = [i for lst in planned_lists for i in lst]
        # Inserted already claimed: the planner sends them without a second round trip.
        lease_until = self._clock.now() + self._policy.lease
        inserted = await self._intents.add_new(new, lease_until=lease_until)
        await self._notify_settled([i for i in new if i.id in inserted])
        await self._tx.commit()
        return existing, [i for i in new if i.id in inserted]

    async def _plan_legs(
        self,
        signal: Signal,
        account: ExchangeAccount,
        user: User,
        platform: PlatformRiskSettings,
        rules_cache: dict[tuple[str, str], MarketRules],
    ) -> list[PlannedLeg]:
        params = signal.params
        if self._expired(signal):
            return [
                skip_account(
                    params.action, f"signal expired: older than {self._policy.max_signal_age}"
                )
            ]
        if not account.enabled:
            return [skip_account(params.action, "exchange connection is disabled")]
        try:
            gateway = await self._gateways.for_account(account)
            key = (account.exchange, params.symbol)
            if key not in rules_cache:
                rules_cache[key] = await gateway.market_rules(params.symbol)
            rules = rules_cache[key]
            position = await gateway.fetch_position(params.symbol)
            if params.action is SignalAction.CLOSE or user.settings.paused:
                equity, mark = Decimal(0), Decimal(0)
            else:
                balance = await gateway.fetch_balance()
                equity, mark = balance.equity, await gateway.fetch_mark_price(params.symbol)
        except ExchangeError as exc:
            return [skip_account(params.action, f"could not read the account: {exc.reason}")]
        risk = resolve_risk(
            platform=platform,
            caps=user.caps,
            follower=user.settings,
            signal_risk_perc=params.risk_perc,
            signal_leverage=params.leverage,
            market_max_leverage=rules.max_leverage,
        )
        return plan_account_orders(
            action=params.action,
            position=position,
            paused=user.settings.paused,
            equity=equity,
            mark_price=mark,
            rules=rules,
            risk=risk,
        )

    def _to_intents(
        self, signal: Signal, account: ExchangeAccount, user: User, legs: list[PlannedLeg]
    ) -> list[OrderIntent]:
        now = self._clock.now()
        intents = []
        for leg in legs:
            intent = OrderIntent(
                id=uuid.uuid4().hex,
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
            if leg.skip_reason is None:
                intent.hold_for_sending(now)
            else:
                intent.skip(leg.skip_reason, now)
            intents.append(intent)
        return intents

    def _limits(self) -> dict[str, asyncio.Semaphore]:
        policy = self._policy
        return _SemaphoreByExchange(policy.concurrency_per_exchange, policy.concurrency_overrides)

    async def _place(
        self,
        signal: Signal,
        claimed: Sequence[OrderIntent],
        all_intents: Sequence[OrderIntent],
        deadline: float,
    ) -> None:
        accounts = {a.id: a for a in await self._accounts.get_many({i.account_id for i in claimed})}
        by_account: dict[str, list[OrderIntent]] = defaultdict(list)
        for intent in claimed:
            by_account[intent.account_id].append(intent)
        earlier_legs: dict[str, list[OrderIntent]] = defaultdict(list)
        claimed_ids = {i.id for i in claimed}
        for intent in all_intents:
            if intent.id not in claimed_ids:
                earlier_legs[intent.account_id].append(intent)
        limits = self._limits()

        async def run_account(account_id: str, legs: list[OrderIntent]) -> None:
            account = accounts.get(account_id)
            now = self._clock.now()
            if account is None:
                for intent in legs:
                    intent.skip("exchange connection was deleted", now)
                return
            async with limits[account.exchange]:
                try:
                    gateway = await self._gateways.for_account(account)
                except ExchangeError as exc:
                    for intent in legs:
                        intent.retry_later(exc.reason, self._clock.now())
                    return
                previous = earlier_legs[account_id]
                for intent in sorted(legs, key=lambda i: _LEG_ORDER[i.leg]):
                    blocker = _unfilled_close(previous)
                    if blocker is None:
                        await self._place_one(signal, intent, gateway, deadline)
                    elif blocker.status.is_final:
                        intent.skip(
                            "the opposite position could not be closed first", self._clock.now()
                        )
                    else:
                        intent.retry_later(
                            "waiting for the close of the opposite position", self._clock.now()
                        )
                    previous.append(intent)

        await asyncio.gather(*(run_account(a, legs) for a, legs in by_account.items()))

    async def _place_one(
        self, signal: Signal, intent: OrderIntent, gateway: ExchangeGateway, deadline: float
    ) -> None:
        try:
            if intent.attempts > 1:
                found = await gateway.find_order(intent.symbol, intent.client_order_id)
                if found is not None:
                    intent.record_fill(found, self._clock.now())
                    return
            if self._expired(signal):
                intent.skip(
                    f"signal expired before the order could be sent "
                    f"(older than {self._policy.max_signal_age})",
                    self._clock.now(),
                )
                return
            if time.monotonic() > deadline:
                intent.retry_later("lease ran short before sending", self._clock.now())
                return
            if intent.leverage is not None:
                await gateway.set_leverage(intent.symbol, intent.leverage)
            fill = await gateway.place_market_order(
                OrderRequest(
                    symbol=intent.symbol,
                    side=intent.side,
                    quantity=intent.quantity,
                    client_order_id=intent.client_order_id,
                    reduce_only=intent.reduce_only,
                )
            )
            intent.record_fill(fill, self._clock.now())
        except OutcomeUnknown as exc:
            await self._settle_unknown(intent, gateway, exc)
        except ExchangeError as exc:
            if exc.retryable:
                intent.retry_later(exc.reason, self._clock.now())
            else:
                intent.reject(exc.reason, self._clock.now())

    async def _settle_unknown(
        self, intent: OrderIntent, gateway: ExchangeGateway, exc: OutcomeUnknown
    ) -> None:
        try:
            found = await gateway.find_order(intent.symbol, intent.client_order_id)
        except ExchangeError:
            found = None
        if found is not None:
            intent.record_fill(found, self._clock.now())
        else:
            log.warning("order %s outcome unknown: %s", intent.client_order_id, exc.reason)
            intent.await_outcome(
                f"outcome unknown ({exc.reason}); looked up before any resend",
                self._clock.now(),
            )


def _unfilled_close(legs: Sequence[OrderIntent]) -> OrderIntent | None:
    """The entry of a flip waits for its close leg, and is dropped if the close failed."""
    return next(
        (i for i in legs if i.leg is OrderLeg.CLOSE and i.status is not IntentStatus.FILLED),
        None,
    )


class _SemaphoreByExchange(dict[str, asyncio.Semaphore]):
    def __init__(self, default: int, overrides: Mapping[str, int]) -> None:
        super().__init__()
        self._default = default
        self._overrides = overrides

    def __missing__(self, exchange: str) -> asyncio.Semaphore:
        limit = self[exchange] = asyncio.Semaphore(self._overrides.get(exchange, self._default))
        return limit
