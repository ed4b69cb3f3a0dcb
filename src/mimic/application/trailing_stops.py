"""Trailing stops: the stop ratchets with the best price since activation (state in a
`TrailingStateStore`); when it is hit, a reduce-only market order closes the position
through the order sender, then the remaining TP/SL is released and the follower told."""

from decimal import Decimal

from mimic.application.monitor_orders import (
    TRAILING_STOP_EVENT,
    MonitorOrders,
    MonitorReport,
    plain,
)
from mimic.application.order_sender import MONITOR, OrderSender
from mimic.application.position_protection import PositionProtection
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg, OrderSide
from mimic.domain.positions import Position
from mimic.domain.protection import TrailingSettings
from mimic.domain.trailing import TrailingParams, TrailingState
from mimic.ports.exchange import ExchangeGateway
from mimic.ports.live_events import LiveEvent, LiveEvents, user_audience
from mimic.ports.protection import TrailingStateStore
from mimic.ports.services import Clock, Notifier


def _stop_moved(entry: OrderIntent, state: TrailingState) -> LiveEvent:
    return LiveEvent(
        "position.trailing_moved",
        {"intent_id": entry.id, "symbol": entry.symbol, "stop_price": plain(state.stop_price)},
    )


def _advance(state: TrailingState, price: Decimal, trailing: TrailingSettings) -> TrailingState:
    if trailing.activation_perc is None or trailing.callback_perc is None:
        return state  # enabling trailing requires both: stored settings have them
    return state.advance(price, TrailingParams(trailing.activation_perc, trailing.callback_perc))


class TrailingStops:
    def __init__(
        self,
        trailing: TrailingStateStore,
        protection: PositionProtection,
        notifier: Notifier,
        live: LiveEvents,
        clock: Clock,
        orders: MonitorOrders,
    ) -> None:
        self._trailing = trailing
        self._protection = protection
        self._notifier = notifier
        self._live = live
        self._orders = orders
        self._sender = OrderSender(clock)

    async def follow(
        self,
        entry: OrderIntent,
        position: Position,
        price: Decimal,
        settings: TrailingSettings,
        children: list[OrderIntent],
        gateway: ExchangeGateway,
        report: MonitorReport,
    ) -> bool:
        """One round for one position; True when its stop was hit (nothing else may act
        on it then). The state is kept even with trailing off: it marks the position as
        watched, which is how a TP/SL fill is told apart from a position gone unseen."""
        state = await self._trailing.load(entry.id)
        if state is None:
            state = TrailingState(position.side, position.entry_price)
            await self._trailing.save(entry.id, state)
        if not settings.enabled:
            return False
        moved = _advance(state.with_entry(position.entry_price), price, settings)
        if moved != state:
            await self._trailing.save(entry.id, moved)
            if moved.stop_price != state.stop_price and not moved.hit:
                await self._live.publish(user_audience(entry.user_id), _stop_moved(entry, moved))
            state = moved
        if not state.hit:
            return False
        await self._close(entry, position, state, children, gateway, report)
        return True

    async def _close(
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
            await self.send(entry, intent, gateway, report)

    async def send(
        self,
        entry: OrderIntent,
        intent: OrderIntent,
        gateway: ExchangeGateway,
        report: MonitorReport,
    ) -> None:
        """The close, new or left unsettled by an earlier round, and what follows it."""
        await self._sender.send(intent, gateway, MONITOR)
        await self._orders.save(entry, intent, TRAILING_STOP_EVENT)
        if intent.status is not IntentStatus.FILLED:
            return
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
