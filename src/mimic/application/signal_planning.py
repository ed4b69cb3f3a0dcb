"""Planning a signal's fan-out: each account is read and its orders sized, nothing sent.

`ExecuteSignal` plans the accounts of its part here before it stores and places; the
preview plans the same way and stops there, and portfolio sync shares the policy.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from mimic.application.exchange_concurrency import ExchangeConcurrency
from mimic.application.guardrails import DailyGuardrails, GuardrailBook
from mimic.application.payment_settings import SubscriptionGate
from mimic.domain.accounts import ExchangeAccount, User
from mimic.domain.errors import ExchangeError
from mimic.domain.follows import SourceFollow
from mimic.domain.market import MarketRules
from mimic.domain.payments import NO_SUBSCRIPTION_REASON, skip_entries
from mimic.domain.planning import PlannedLeg, plan_account_orders, skip_account
from mimic.domain.risk import PlatformRiskSettings, resolve_risk, risk_cap
from mimic.domain.signal import Signal, SignalAction
from mimic.ports.exchange import ExchangeGateways
from mimic.ports.repositories import (
    SettingsRepository,
    SourceFollowRepository,
    TransactionManager,
)
from mimic.ports.services import Clock

COPYING_PAUSED_REASON = "copying is paused for everyone by an admin"


@dataclass(frozen=True, slots=True)
class ExecutionPolicy:
    concurrency_per_exchange: int = 64
    # Exchanges that take more at once, e.g. the paper venue, which batches what it gets.
    concurrency_overrides: Mapping[str, int] = field(default_factory=dict)
    claim_batch: int = 1000
    # The accounts planned first, before the rest go a claim batch at a time: the first
    # orders leave once these few are planned and stored (issue 17: planning and storing a
    # full batch before the first order was most of a signal's copy latency).
    first_batch: int = 100
    lease: timedelta = timedelta(seconds=60)
    # An order is only sent while this much of its lease is left, so that no other worker
    # can take the intent over while the request is in flight.
    send_margin: timedelta = timedelta(seconds=20)
    max_signal_age: timedelta = timedelta(minutes=5)

    @property
    def concurrency(self) -> ExchangeConcurrency:
        return ExchangeConcurrency(self.concurrency_per_exchange, self.concurrency_overrides)


@dataclass(frozen=True, slots=True)
class AccountPlan:
    account: ExchangeAccount
    user: User
    legs: list[PlannedLeg]


@dataclass(slots=True)
class FirstMark:
    """The first mark price the planning of a fan-out part read, and when: the signal's
    reference for copy fidelity, taken where the fan-out reads prices anyway."""

    price: Decimal | None = None
    at: datetime | None = None

    def saw(self, price: Decimal | None, at: datetime) -> None:
        if self.price is None and price is not None and price > 0:
            self.price, self.at = price, at

    @property
    def seen(self) -> bool:
        return self.price is not None


@dataclass(frozen=True, slots=True)
class ExecutionSummary:
    signal_id: str
    counts: dict[str, int]
    finished: bool


class SignalPlanner:
    """Plans a signal for follower accounts: reads each account, sizes its legs, and
    records why a leg is skipped. Stores and sends nothing."""

    def __init__(
        self,
        settings: SettingsRepository,
        gateways: ExchangeGateways,
        tx: TransactionManager,
        clock: Clock,
        policy: ExecutionPolicy,
        subscription_gate: SubscriptionGate,
        guardrails: DailyGuardrails,
        follows: SourceFollowRepository,
    ) -> None:
        self._settings = settings
        self._gateways = gateways
        self._tx = tx
        self._clock = clock
        self._policy = policy
        self._subscription_gate = subscription_gate
        self._guardrails = guardrails
        self._follows = follows

    def expired(self, signal: Signal) -> bool:
        return self._clock.now() - signal.received_at > self._policy.max_signal_age

    async def preview(
        self, signal: Signal, candidates: Sequence[tuple[ExchangeAccount, User]]
    ) -> list[AccountPlan]:
        """What the fan-out would plan for `candidates` now; stores and sends nothing."""
        plans, _ = await self.plan_accounts(signal, candidates, FirstMark())
        return plans

    async def plan_accounts(
        self,
        signal: Signal,
        candidates: Sequence[tuple[ExchangeAccount, User]],
        first_mark: FirstMark,
    ) -> tuple[list[AccountPlan], GuardrailBook]:
        """Plans for those of `candidates` who follow the signal's source (or every one)."""
        choices = await self._follows.choices_for(signal.source_id)
        allocations: dict[str, SourceFollow] = {}
        for _, user in candidates:
            follow = choices.allocation(user.id)
            if follow is not None:
                allocations[user.id] = follow
        candidates = [(a, u) for a, u in candidates if u.id in allocations]
        platform = await self._settings.get_platform_risk()
        unsubscribed = await self._subscription_gate.lacking_subscription(
            {u.id for _, u in candidates}
        )
        guard = await self._guardrails.load(
            [a.id for a, u in candidates if u.guardrails.enabled]  # the others are not checked
        )
        entries_paused = (
            signal.params.action is not SignalAction.CLOSE and await self._settings.copying_paused()
        )
        await self._tx.commit()  # end the read: no connection held while exchanges answer
        rules_cache: dict[tuple[str, str], MarketRules] = {}
        planned_now: dict[str, AccountPlan] = {}

        async def plan_one(candidate: tuple[ExchangeAccount, User]) -> None:
            account, user = candidate
            follow = allocations[user.id]
            action = follow.action_for(signal.params.action)
            if entries_paused and action is not SignalAction.CLOSE:
                planned_now[account.id] = AccountPlan(
                    account, user, [skip_account(action, COPYING_PAUSED_REASON)]
                )
                return
            legs = await self._plan_legs(
                signal, account, user, follow, platform, rules_cache, guard, first_mark
            )
            if user.id in unsubscribed:
                legs = skip_entries(legs, NO_SUBSCRIPTION_REASON)
            planned_now[account.id] = AccountPlan(account, user, legs)

        await self._policy.concurrency.run(candidates, lambda c: c[0].exchange, plan_one)
        return [planned_now[account.id] for account, _ in candidates], guard

    async def _plan_legs(
        self,
        signal: Signal,
        account: ExchangeAccount,
        user: User,
        follow: SourceFollow,
        platform: PlatformRiskSettings,
        rules_cache: dict[tuple[str, str], MarketRules],
        guard: GuardrailBook,
        first_mark: FirstMark,
    ) -> list[PlannedLeg]:
        """The follow's direction narrows the signal's action, its allocation the sizing."""
        params = signal.params
        action = follow.action_for(params.action)
        follower = follow.settings_over(user.settings)
        if self.expired(signal):
            return [
                skip_account(action, f"signal expired: older than {self._policy.max_signal_age}")
            ]
        if not account.enabled:
            return [skip_account(action, "exchange connection is disabled")]
        try:
            gateway = await self._gateways.for_account(account)
            key = (account.exchange, params.symbol)
            if key not in rules_cache:
                rules_cache[key] = await gateway.market_rules(params.symbol)
            rules = rules_cache[key]
            opening = action is not SignalAction.CLOSE and not follower.paused
            snapshot = await gateway.fetch_snapshot(params.symbol, with_balance=opening)
        except ExchangeError as exc:
            return [skip_account(action, f"could not read the account: {exc.reason}")]
        if not first_mark.seen:
            first_mark.saw(snapshot.mark_price, self._clock.now())
        position, equity, mark = snapshot.position, Decimal(0), Decimal(0)
        if opening and snapshot.equity is not None and snapshot.mark_price is not None:
            equity, mark = snapshot.equity, snapshot.mark_price
        risk = resolve_risk(
            platform=platform,
            caps=user.caps,
            follower=follower,
            signal_risk_perc=params.risk_perc,
            signal_leverage=params.leverage,
            market_max_leverage=rules.max_leverage,
        )
        if params.mirrored is not None:
            # Proportional sizing: the multiplier sizes the entry, the admin's caps bound it.
            risk = replace(risk, risk_perc=risk_cap(platform, user.caps))
        legs = plan_account_orders(
            action=action,
            position=position,
            paused=follower.paused,
            equity=equity,
            mark_price=mark,
            rules=rules,
            risk=risk,
            mirrored=params.mirrored,
            multiplier=follow.entry_multiplier,
        )
        if opening and snapshot.equity is not None:
            # Daily guardrails refuse new entries only; a close always goes through.
            blocked = guard.check_entry(account, user, equity)
            if blocked is not None:
                return skip_entries(legs, blocked)
        return legs
