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
from mimic.application.order_sender import MONITOR, OrderSender
from mimic.application.position_protection import PositionProtection
from mimic.domain.accounts import ExchangeAccount, User
from mimic.domain.dca import DcaAdd, DcaHistory, DcaParams, DcaSkip, drawdown_perc, plan_dca
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import (
    IntentStatus,
    OrderIntent,
    OrderLeg,
    OrderSide,
    monitor_client_order_id,
    monitor_intent_id,
)
from mimic.domain.positions import Position, PositionSide
from mimic.domain.protection import ProtectionSettings, protective_prefix
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

TRAILING_STOP_EVENT = "position.trailing_stop"
DCA_EVENT = "position.dca"
STOP_LOSS_EVENT = "position.stop_loss"
TAKE_PROFIT_EVENT = "position.take_profit"
PROTECTED_EVENT = "position.protected"


@dataclass(frozen=True, slots=True)
class MonitorPolicy:
    lease: timedelta = timedelta(seconds=60)
    concurrency: int = 32  # accounts whose positions are read at once, per exchange


@dataclass(slots=True)
class MonitorReport:
    positions: int = 0
    trailing_closes: list[str] = field(default_factory=list)
    dca_adds: list[str] = field(default_factory=list)
    protection_fills: list[str] = field(default_factory=list)


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
        self._intents = intents
        self._settings = settings
        self._gateways = gateways
        self._feeds = feeds
        self._trailing = trailing
        self._protection = protection
        self._notifier = notifier
        self._tx = tx
        self._clock = clock
        self._policy = policy
        self._sender = OrderSender(clock)

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
                await self._resume(entry, child, number, item.gateway, report)
                continue
            side = PositionSide.LONG if entry.side is OrderSide.BUY else PositionSide.SHORT
            position = item.positions.get(entry.symbol)
            if position is None or position.side is not side:
                await self._position_gone(entry, children[entry.id], item.gateway, report)
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
            f"{_plain(entry.stop_loss_price)}, take-profit {_plain(entry.take_profit_price)}",
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
            f"trailing stop hit at {state.hit_price}: stop {_plain(state.stop_price)} "
            f"(best {state.best_price} since activation)"
        )
        intent = self._child(
            entry,
            OrderLeg.TRAILING_STOP,
            number,
            position.side.closing_side,
            position.quantity,
            reduce_only=True,
            reason=why,
        )
        if await self._insert_held(intent):
            await self._send(entry, intent, number, gateway, report)

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
            skipped = self._child(
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
        intent = self._child(
            entry,
            OrderLeg.DCA,
            decision.number,
            position.side.opening_side,
            decision.quantity,
            reduce_only=False,
            reason=why,
        )
        if await self._insert_held(intent):
            await self._send(entry, intent, decision.number, gateway, report)

    # --- sending ------------------------------------------------------------------------

    def _child(
        self,
        entry: OrderIntent,
        leg: OrderLeg,
        number: int,
        side: OrderSide,
        quantity: Decimal,
        *,
        reduce_only: bool,
        reason: str,
    ) -> OrderIntent:
        now = self._clock.now()
        intent_id = monitor_intent_id(entry.id, leg, number)
        return OrderIntent(
            id=intent_id,
            signal_id=None,
            account_id=entry.account_id,
            user_id=entry.user_id,
            leg=leg,
            symbol=entry.symbol,
            side=side,
            quantity=quantity,
            reduce_only=reduce_only,
            leverage=None,
            client_order_id=monitor_client_order_id(intent_id),
            created_at=now,
            updated_at=now,
            reason=reason,
            parent_id=entry.id,
        )

    async def _insert_held(self, intent: OrderIntent) -> bool:
        """Stored before it is sent; False when another worker stored it first."""
        now = self._clock.now()
        intent.hold_for_sending(now)
        inserted = await self._position_intents.add_if_absent(
            intent, lease_until=now + self._policy.lease
        )
        await self._tx.commit()
        return inserted

    async def _resume(
        self,
        entry: OrderIntent,
        child: OrderIntent,
        number: int,
        gateway: ExchangeGateway,
        report: MonitorReport,
    ) -> None:
        """An order stored but not settled (a worker died, an outcome was unknown)."""
        now = self._clock.now()
        claimed = await self._intents.claim(
            [child.id], now=now, lease_until=now + self._policy.lease
        )
        await self._tx.commit()
        if claimed:
            await self._send(entry, claimed[0], number, gateway, report)

    async def _send(
        self,
        entry: OrderIntent,
        intent: OrderIntent,
        number: int,
        gateway: ExchangeGateway,
        report: MonitorReport,
    ) -> None:
        """`number`: the how-manieth order of its leg for this position."""
        await self._sender.send(intent, gateway, MONITOR)
        await self._intents.save_results([intent])
        await self._tx.commit()
        if intent.status is IntentStatus.FILLED:
            await self._after_fill(entry, intent, number, gateway, report)
        elif intent.status is IntentStatus.REJECTED:
            event = TRAILING_STOP_EVENT if intent.leg is OrderLeg.TRAILING_STOP else DCA_EVENT
            await self._notifier.notify(intent.user_id, event, f"{entry.symbol}: {intent.reason}")

    async def _after_fill(
        self,
        entry: OrderIntent,
        intent: OrderIntent,
        number: int,
        gateway: ExchangeGateway,
        report: MonitorReport,
    ) -> None:
        if intent.leg is OrderLeg.TRAILING_STOP:
            await self._protection.release(intent, gateway)
            await self._trailing.discard(entry.id)
            report.trailing_closes.append(intent.id)
            verb = "sold" if intent.side is OrderSide.SELL else "bought"
            await self._notifier.notify(
                intent.user_id,
                TRAILING_STOP_EVENT,
                f"{entry.symbol} position closed: {intent.reason}; "
                f"{verb} {intent.filled_quantity} at {intent.average_price}",
            )
            return
        report.dca_adds.append(intent.id)
        await self._move_protection(entry, intent, number, gateway)

    async def _move_protection(
        self, entry: OrderIntent, add: OrderIntent, number: int, gateway: ExchangeGateway
    ) -> None:
        """After DCA add `number`: TP/SL follow the new average entry (ids of revision
        `number`, since the old ones may still be open on the exchange)."""
        try:
            position = await gateway.fetch_position(entry.symbol)
        except ExchangeError as exc:
            position = None
            log.warning("position after DCA add %s not read: %s", add.id, exc.reason)
        protected = ""
        if position is not None and (entry.tp_perc is not None or entry.sl_perc is not None):
            await self._protection.release(add, gateway)
            if await self._protection.protect(
                entry, gateway, entry_price=position.entry_price, revision=number
            ):
                protected = (
                    f"; stop-loss {_plain(entry.stop_loss_price)}, "
                    f"take-profit {_plain(entry.take_profit_price)}"
                )
            await self._position_intents.save_protection([entry])
            await self._tx.commit()
        average = "" if position is None else f"; average entry now {position.entry_price}"
        await self._notifier.notify(
            add.user_id,
            DCA_EVENT,
            f"{entry.symbol}: {add.reason}; added {add.filled_quantity} at "
            f"{add.average_price}{average}{protected}",
        )

    # --- a position that is gone ----------------------------------------------------------

    async def _position_gone(
        self,
        entry: OrderIntent,
        children: list[OrderIntent],
        gateway: ExchangeGateway,
        report: MonitorReport,
    ) -> None:
        """Watched until now: if a native TP/SL closed it, record that and tell the follower."""
        if await self._trailing.load(entry.id) is None:
            return
        closed_by_us = any(
            c.status is IntentStatus.FILLED
            and c.leg in (OrderLeg.TRAILING_STOP, OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT)
            for c in children
        )
        if not closed_by_us and (entry.stop_loss_price or entry.take_profit_price):
            revision = sum(
                1 for c in children if c.leg is OrderLeg.DCA and c.status is IntentStatus.FILLED
            )
            prefix = protective_prefix(entry.client_order_id, revision)
            for kind, leg, event, price in (
                ("sl", OrderLeg.STOP_LOSS, STOP_LOSS_EVENT, entry.stop_loss_price),
                ("tp", OrderLeg.TAKE_PROFIT, TAKE_PROFIT_EVENT, entry.take_profit_price),
            ):
                if price is None:
                    continue
                try:
                    fill = await gateway.find_order(entry.symbol, prefix + kind)
                except ExchangeError as exc:
                    log.warning("%s of %s not looked up: %s", kind, entry.id, exc.reason)
                    return  # keep watching: the next round looks again
                if fill is None:
                    continue
                name = "stop-loss" if kind == "sl" else "take-profit"
                why = f"{name} hit: trigger {_plain(price)}, filled at {fill.average_price}"
                record = self._child(
                    entry, leg, 1, fill.side, fill.quantity, reduce_only=True, reason=why
                )
                record.record_fill(fill, self._clock.now())
                record.reason = why
                if await self._position_intents.add_if_absent(record, lease_until=None):
                    await self._tx.commit()
                    report.protection_fills.append(record.id)
                    await self._notifier.notify(
                        entry.user_id, event, f"{entry.symbol} position closed: {why}"
                    )
                break
        # Exchanges leave the other leg open when a TP/SL fires; nothing may outlive the
        # position (until the exchange confirms, the next round tries again).
        if await self._protection.release(entry, gateway):
            await self._trailing.discard(entry.id)


def _plain(value: Decimal | None) -> str:
    return "none" if value is None else format(value.normalize(), "f")
