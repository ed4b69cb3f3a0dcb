"""DCA: an add to a losing position within the follower's caps and available margin, sent
through the order sender; after it fills, TP/SL move to the new average entry. A refused
or skipped add ends DCA for that position, and the follower is told why."""

import logging
from decimal import Decimal

from mimic.application.monitor_orders import DCA_EVENT, MonitorOrders, MonitorReport, plain
from mimic.application.order_sender import MONITOR, OrderSender
from mimic.application.position_protection import PositionProtection
from mimic.domain.dca import DcaAdd, DcaHistory, DcaParams, DcaSkip, drawdown_perc, plan_dca
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg
from mimic.domain.positions import Position
from mimic.ports.exchange import ExchangeGateway
from mimic.ports.protection import PositionIntentRepository
from mimic.ports.repositories import TransactionManager
from mimic.ports.services import Clock, Notifier

log = logging.getLogger(__name__)


class DcaAdds:
    def __init__(
        self,
        position_intents: PositionIntentRepository,
        protection: PositionProtection,
        notifier: Notifier,
        tx: TransactionManager,
        clock: Clock,
        orders: MonitorOrders,
    ) -> None:
        self._position_intents = position_intents
        self._protection = protection
        self._notifier = notifier
        self._tx = tx
        self._clock = clock
        self._orders = orders
        self._sender = OrderSender(clock)

    async def maybe_add(
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
        if isinstance(decision, DcaSkip):
            await self._skip(entry, position, len(adds) + 1, decision.reason)
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
            await self.send(entry, intent, decision.number, gateway, report)

    async def send(
        self,
        entry: OrderIntent,
        intent: OrderIntent,
        number: int,
        gateway: ExchangeGateway,
        report: MonitorReport,
    ) -> None:
        """Add `number`, new or left unsettled by an earlier round, and what follows it."""
        await self._sender.send(intent, gateway, MONITOR)
        await self._orders.save(entry, intent, DCA_EVENT)
        if intent.status is IntentStatus.FILLED:
            report.dca_adds.append(intent.id)
            await self._move_protection(entry, intent, number, gateway)

    async def _move_protection(
        self, entry: OrderIntent, add: OrderIntent, number: int, gateway: ExchangeGateway
    ) -> None:
        """After add `number`: TP/SL follow the new average entry (ids of revision
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
                    f"; stop-loss {plain(entry.stop_loss_price)}, "
                    f"take-profit {plain(entry.take_profit_price)}"
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

    async def _skip(self, entry: OrderIntent, position: Position, number: int, reason: str) -> None:
        skipped = self._orders.child(
            entry,
            OrderLeg.DCA,
            number,
            position.side.opening_side,
            Decimal(0),
            reduce_only=False,
            reason=reason,
        )
        skipped.skip(reason, self._clock.now())
        if await self._position_intents.add_if_absent(skipped, lease_until=None):
            await self._tx.commit()
            await self._notifier.notify(
                entry.user_id, DCA_EVENT, f"{entry.symbol}: {reason}; no more adds"
            )
