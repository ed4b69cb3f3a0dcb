"""The position monitor's orders: each stored before it is sent (so two workers, or one
restarted, send it once), sent through the one order sender, and what follows a fill:
TP/SL released after a trailing stop, moved to the new average entry after a DCA add."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from mimic.application.order_sender import MONITOR, OrderSender
from mimic.application.position_protection import PositionProtection
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import (
    IntentStatus,
    OrderIntent,
    OrderLeg,
    OrderSide,
    monitor_client_order_id,
    monitor_intent_id,
)
from mimic.ports.exchange import ExchangeGateway
from mimic.ports.protection import PositionIntentRepository, TrailingStateStore
from mimic.ports.repositories import OrderIntentRepository, TransactionManager
from mimic.ports.services import Clock, Notifier

log = logging.getLogger(__name__)

TRAILING_STOP_EVENT = "position.trailing_stop"
DCA_EVENT = "position.dca"
STOP_LOSS_EVENT = "position.stop_loss"
TAKE_PROFIT_EVENT = "position.take_profit"
PROTECTED_EVENT = "position.protected"


@dataclass(slots=True)
class MonitorReport:
    positions: int = 0
    trailing_closes: list[str] = field(default_factory=list)
    dca_adds: list[str] = field(default_factory=list)
    protection_fills: list[str] = field(default_factory=list)


class MonitorOrders:
    def __init__(
        self,
        position_intents: PositionIntentRepository,
        intents: OrderIntentRepository,
        trailing: TrailingStateStore,
        protection: PositionProtection,
        notifier: Notifier,
        tx: TransactionManager,
        clock: Clock,
        lease: timedelta,
    ) -> None:
        self._position_intents = position_intents
        self._intents = intents
        self._trailing = trailing
        self._protection = protection
        self._notifier = notifier
        self._tx = tx
        self._clock = clock
        self._lease = lease
        self._sender = OrderSender(clock)

    def child(
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
        """Order `number` of `leg` for the position `entry` opened; its ids derive from
        those three, so every worker agrees on them."""
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

    async def insert_held(self, intent: OrderIntent) -> bool:
        """Stored before it is sent; False when another worker stored it first."""
        now = self._clock.now()
        intent.hold_for_sending(now)
        inserted = await self._position_intents.add_if_absent(intent, lease_until=now + self._lease)
        await self._tx.commit()
        return inserted

    async def resume(
        self,
        entry: OrderIntent,
        child: OrderIntent,
        number: int,
        gateway: ExchangeGateway,
        report: MonitorReport,
    ) -> None:
        """An order stored but not settled (a worker died, an outcome was unknown)."""
        now = self._clock.now()
        claimed = await self._intents.claim([child.id], now=now, lease_until=now + self._lease)
        await self._tx.commit()
        if claimed:
            await self.send(entry, claimed[0], number, gateway, report)

    async def send(
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


def plain(value: Decimal | None) -> str:
    return "none" if value is None else format(value.normalize(), "f")
