"""The TP/SL of watched positions: placed again while they are missing, and, when a
position is gone, the native TP/SL fill that closed it recorded and notified."""

import logging
from datetime import timedelta

from mimic.application.monitor_orders import (
    PROTECTED_EVENT,
    STOP_LOSS_EVENT,
    TAKE_PROFIT_EVENT,
    MonitorOrders,
    MonitorReport,
    plain,
)
from mimic.application.position_protection import PositionProtection
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg
from mimic.domain.positions import Position
from mimic.domain.protection import protective_prefix
from mimic.ports.exchange import ExchangeGateway
from mimic.ports.protection import PositionIntentRepository, TrailingStateStore
from mimic.ports.repositories import TransactionManager
from mimic.ports.services import Clock, Notifier

log = logging.getLogger(__name__)

# A position whose TP/SL fired before the monitor's first round saw it is still settled if
# its entry is this recent (the account's event stream records such a fill at once).
UNSEEN_POSITION_WINDOW = timedelta(minutes=5)


def _revision(children: list[OrderIntent]) -> int:
    """TP/SL ids carry the number of DCA adds filled since the entry."""
    return sum(1 for c in children if c.leg is OrderLeg.DCA and c.status is IntentStatus.FILLED)


class ProtectiveFills:
    def __init__(
        self,
        position_intents: PositionIntentRepository,
        trailing: TrailingStateStore,
        protection: PositionProtection,
        notifier: Notifier,
        tx: TransactionManager,
        clock: Clock,
        orders: MonitorOrders,
    ) -> None:
        self._position_intents = position_intents
        self._trailing = trailing
        self._protection = protection
        self._notifier = notifier
        self._tx = tx
        self._clock = clock
        self._orders = orders

    async def retry_protection(
        self,
        entry: OrderIntent,
        position: Position,
        children: list[OrderIntent],
        gateway: ExchangeGateway,
    ) -> None:
        """TP/SL that could not be placed after the entry: tried again every round
        (quietly: the failure was notified), and the follower told once they are on."""
        if not await self._protection.protect(
            entry,
            gateway,
            entry_price=position.entry_price,
            revision=_revision(children),
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

    async def position_gone(
        self,
        entry: OrderIntent,
        children: list[OrderIntent],
        gateway: ExchangeGateway,
        report: MonitorReport,
    ) -> None:
        """Watched until now, or opened moments ago and gone before a round saw it: if a
        native TP/SL closed it, record that and tell the follower."""
        closed_by_us = any(
            c.status is IntentStatus.FILLED
            and c.leg in (OrderLeg.TRAILING_STOP, OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT)
            for c in children
        )
        if await self._trailing.load(entry.id) is None and (
            closed_by_us or self._clock.now() - entry.created_at > UNSEEN_POSITION_WINDOW
        ):
            return  # settled already, or gone long before anyone watched it
        if not closed_by_us and (entry.stop_loss_price or entry.take_profit_price):
            prefix = protective_prefix(entry.client_order_id, _revision(children))
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
                why = f"{name} hit: trigger {plain(price)}, filled at {fill.average_price}"
                record = self._orders.child(
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
