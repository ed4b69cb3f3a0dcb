"""The position monitor: trailing stops and DCA for open positions, one round at a time.

A round reads, for every follower with trailing or DCA enabled, the positions Mimic opened
(the latest filled entry per account and symbol), the latest prices from the price feed of
their exchange, and acts:

- trailing: the stop ratchets with the best price (state in a `TrailingStateStore`); when
  hit, a reduce-only market order closes the position, the remaining TP/SL is cancelled,
  the follower is notified;
- DCA: an add to a losing position within the follower's caps and available margin, then
  TP/SL move to the new average entry;
- a native TP/SL that fired on the exchange is recorded and notified.

Every order is an intent stored before it is sent, with an id derived from the entry, so
two workers, or a worker restarted in the middle, send it once: the one that inserts it
holds its lease, and a resend is preceded by a lookup of its client order id.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from mimic.application.exchange_concurrency import ExchangeConcurrency
from mimic.application.monitor_orders import (
    DCA_EVENT,
    PROTECTED_EVENT,
    MonitorOrders,
    MonitorReport,
    plain,
)
from mimic.application.position_protection import PositionProtection
from mimic.domain.accounts import ExchangeAccount, User
from mimic.domain.dca import DcaAdd, DcaHistory, DcaParams, DcaSkip, drawdown_perc, plan_dca
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import (
    IntentStatus,
    OrderIntent,
    OrderLeg,
    OrderSide,
)
from mimic.domain.positions import Position, PositionSide
from mimic.domain.protection import ProtectionSettings
from mimic.domain.risk import risk_cap
from mimic.domain.trailing import TrailingParams, TrailingState
from mimic.ports.exchange import ExchangeGateway, ExchangeGateways
from mimic.ports.protection import PositionIntentRepository, PriceFeeds, TrailingStateStore
from mimic.ports.repositories import (
    ExchangeAccountRepository,
    OrderIntentRepository,
    SettingsRepository,
    TransactionManager,
)
from mimic.ports.services import Clock, Notifier

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MonitorPolicy:
    lease: timedelta = timedelta(seconds=60)
    concurrency: int = 32  # accounts whose positions are read at once, per exchange


@dataclass(slots=True)
class _Watched:
    account: ExchangeAccount
    user: User
    gateway: ExchangeGateway | None = None
    positions: dict[str, Position] = field(default_factory=dict)


class MonitorPositions:
    def __init__(
        self,
        accounts: ExchangeAccountRepository,
        position_intents: PositionIntentRepository,
        intents: OrderIntentRepository,
        settings: SettingsRepository,
        gateways: ExchangeGateways,
        feeds: PriceFeeds,
        trailing: TrailingStateStore,
        protection: PositionProtection,
        notifier: Notifier,
        tx: TransactionManager,
        clock: Clock,
        policy: MonitorPolicy,
    ) -> None:
        self._accounts = accounts
        self._position_intents = position_intents
        self._settings = settings
        self._gateways = gateways
        self._feeds = feeds
        self._trailing = trailing
        self._protection = protection
        self._notifier = notifier
        self._tx = tx
        self._clock = clock
        self._policy = policy
        self._orders = MonitorOrders(
            position_intents, intents, trailing, protection, notifier, tx, clock, policy.lease
        )

    async def __call__(self) -> MonitorReport:
        report = MonitorReport()
        watched = {
            account.id: _Watched(account, user)
            for account, user in await self._accounts.list_copy_candidates(monitored_only=True)
            if self._feeds.for_exchange(account.exchange) is not None
        }
        if not watched:
            return report
        entries = await self._position_intents.latest_entries(list(watched))
        children: dict[str, list[OrderIntent]] = defaultdict(list)
        for child in await self._position_intents.children([e.id for e in entries]):
            if child.parent_id is not None:
                children[child.parent_id].append(child)
        await self._tx.commit()  # no transaction stays open across exchange calls
        prices = await self._prices(entries, watched)
        await self._read_positions({e.account_id for e in entries}, watched)
        platform = await self._settings.get_platform_risk()
        for entry in entries:
            item = watched[entry.account_id]
            if item.gateway is None:
                continue  # its positions could not be read this round
            unsettled = [
                c
                for c in children[entry.id]
                if not c.status.is_final and c.leg in (OrderLeg.TRAILING_STOP, OrderLeg.DCA)
            ]
            if unsettled:
                # One order in flight per position: settle it (even if the position is gone:
                # it may be what closed it) before anything else; the next round goes on.
                child = unsettled[0]
                same_leg = [c.id for c in children[entry.id] if c.leg is child.leg]
                number = same_leg.index(child.id) + 1
                await self._orders.resume(entry, child, number, item.gateway, report)
                continue
            side = PositionSide.LONG if entry.side is OrderSide.BUY else PositionSide.SHORT
            position = item.positions.get(entry.symbol)
            if position is None or position.side is not side:
                await self._orders.position_gone(entry, children[entry.id], item.gateway, report)
                continue
            report.positions += 1
            price = prices.get((item.account.exchange, entry.symbol))
            if price is None:
                continue
            await self._watch(
                entry,
                position,
                price,
                item.user,
                item.gateway,
                children[entry.id],
                platform_cap=risk_cap(platform, item.user.caps),
                report=report,
            )
        return report

    # --- reading ------------------------------------------------------------------------

    async def _prices(
        self, entries: Sequence[OrderIntent], watched: dict[str, _Watched]
    ) -> dict[tuple[str, str], Decimal]:
        symbols: dict[str, set[str]] = defaultdict(set)
        for entry in entries:
            symbols[watched[entry.account_id].account.exchange].add(entry.symbol)
        prices: dict[tuple[str, str], Decimal] = {}
        for exchange, wanted in symbols.items():
            feed = self._feeds.for_exchange(exchange)
            if feed is None:
                continue
            try:
                await feed.subscribe(wanted)
                latest = await feed.latest(wanted)
            except ExchangeError as exc:
                log.warning("no %s prices this round: %s", exchange, exc.reason)
                continue
            prices.update(((exchange, s), p) for s, p in latest.items())
        return prices

    async def _read_positions(self, account_ids: set[str], watched: dict[str, _Watched]) -> None:
        async def read(item: _Watched) -> None:
            try:
                gateway = await self._gateways.for_account(item.account)
                positions = await gateway.fetch_positions()
            except ExchangeError as exc:
                log.warning("positions of %s not read: %s", item.account.id, exc.reason)
                return
            item.gateway = gateway
            item.positions = {p.symbol: p for p in positions}

        await ExchangeConcurrency(self._policy.concurrency).run(
            [watched[a] for a in sorted(account_ids)], lambda item: item.account.exchange, read
        )

    # --- one position -------------------------------------------------------------------

    async def _watch(
        self,
        entry: OrderIntent,
        position: Position,
        price: Decimal,
        user: User,
        gateway: ExchangeGateway,
        children: list[OrderIntent],
        *,
        platform_cap: Decimal,
        report: MonitorReport,
    ) -> None:
        if any(
            c.leg is OrderLeg.TRAILING_STOP and c.status is IntentStatus.FILLED for c in children
        ):
            return  # closed by its trailing stop; what is open now is someone else's
        if (
            entry.protection_error is not None
            and entry.stop_loss_price is None
            and entry.take_profit_price is None
        ):
            await self._retry_protection(entry, position, children, gateway)
        state = await self._trailing.load(entry.id)
        if state is None:
            state = TrailingState(position.side, position.entry_price)
            await self._trailing.save(entry.id, state)
        settings = user.protection
        if settings.trailing.enabled:
            moved = self._advance(state.with_entry(position.entry_price), price, settings)
            if moved != state:
                await self._trailing.save(entry.id, moved)
                state = moved
            if state.hit:
                await self._close_on_trailing_stop(
                    entry, position, state, children, gateway, report
                )
                return
        params = DcaParams.from_settings(settings.dca)
        if params is not None:
            await self._maybe_add(
                entry, position, price, params, children, gateway, platform_cap, report
            )

    async def _retry_protection(
        self,
        entry: OrderIntent,
        position: Position,
        children: list[OrderIntent],
        gateway: ExchangeGateway,
    ) -> None:
        """TP/SL that could not be placed after the entry: tried again every round
        (quietly: the failure was notified), and the follower told once they are on."""
        revision = sum(
            1 for c in children if c.leg is OrderLeg.DCA and c.status is IntentStatus.FILLED
        )
        if not await self._protection.protect(
            entry,
            gateway,
            entry_price=position.entry_price,
            revision=revision,
            notify_failure=False,
        ):
            return
        await self._position_intents.save_protection([entry])
        await self._tx.commit()
        await self._notifier.notify(
            entry.user_id,
            PROTECTED_EVENT,
            f"{entry.symbol} position now protected: stop-loss "
            f"{plain(entry.stop_loss_price)}, take-profit {plain(entry.take_profit_price)}",
        )

    @staticmethod
    def _advance(
        state: TrailingState, price: Decimal, settings: ProtectionSettings
    ) -> TrailingState:
        trailing = settings.trailing
        if trailing.activation_perc is None or trailing.callback_perc is None:
            return state  # enabling trailing requires both: stored settings have them
        return state.advance(
            price, TrailingParams(trailing.activation_perc, trailing.callback_perc)
        )

    async def _close_on_trailing_stop(
        self,
        entry: OrderIntent,
        position: Position,
        state: TrailingState,
        children: list[OrderIntent],
        gateway: ExchangeGateway,
        report: MonitorReport,
    ) -> None:
        # A close the exchange refused for good is tried again as the next number.
        number = 1 + sum(1 for c in children if c.leg is OrderLeg.TRAILING_STOP)
        why = (
            f"trailing stop hit at {state.hit_price}: stop {plain(state.stop_price)} "
            f"(best {state.best_price} since activation)"
        )
        intent = self._orders.child(
            entry,
            OrderLeg.TRAILING_STOP,
            number,
            position.side.closing_side,
            position.quantity,
            reduce_only=True,
            reason=why,
        )
        if await self._orders.insert_held(intent):
            await self._orders.send(entry, intent, number, gateway, report)

    async def _maybe_add(
        self,
        entry: OrderIntent,
        position: Position,
        price: Decimal,
        params: DcaParams,
        children: list[OrderIntent],
        gateway: ExchangeGateway,
        platform_cap: Decimal,
        report: MonitorReport,
    ) -> None:
        adds = [c for c in children if c.leg is OrderLeg.DCA]
        if any(c.status is not IntentStatus.FILLED for c in adds):
            return  # an add was refused or skipped: DCA stops for this position
        if entry.filled_quantity is None:
            return
        last = adds[-1] if adds else None
        history = DcaHistory(
            entry_quantity=entry.filled_quantity,
            adds=len(adds),
            last_add_price=None if last is None else last.average_price,
            last_add_at=None if last is None else last.updated_at,
        )
        try:
            rules = await gateway.market_rules(entry.symbol)
            balance = await gateway.fetch_balance()
        except ExchangeError as exc:
            log.warning("DCA of %s not checked: %s", entry.id, exc.reason)
            return
        decision = plan_dca(
            position=position,
            mark_price=price,
            params=params,
            history=history,
            now=self._clock.now(),
            rules=rules,
            available_margin=balance.available,
            equity=balance.equity,
            risk_cap_perc=platform_cap,
        )
        if decision is None:
            return
        number = len(adds) + 1
        if isinstance(decision, DcaSkip):
            skipped = self._orders.child(
                entry,
                OrderLeg.DCA,
                number,
                position.side.opening_side,
                Decimal(0),
                reduce_only=False,
                reason=decision.reason,
            )
            skipped.skip(decision.reason, self._clock.now())
            if await self._position_intents.add_if_absent(skipped, lease_until=None):
                await self._tx.commit()
                await self._notifier.notify(
                    entry.user_id, DCA_EVENT, f"{entry.symbol}: {decision.reason}; no more adds"
                )
            return
        assert isinstance(decision, DcaAdd)
        drawdown = drawdown_perc(position.side, position.entry_price, price)
        why = (
            f"DCA add {decision.number} at {price}: {drawdown:.2f}% against the average "
            f"entry {position.entry_price}"
        )
        intent = self._orders.child(
            entry,
            OrderLeg.DCA,
            decision.number,
            position.side.opening_side,
            decision.quantity,
            reduce_only=False,
            reason=why,
        )
        if await self._orders.insert_held(intent):
            await self._orders.send(entry, intent, decision.number, gateway, report)
