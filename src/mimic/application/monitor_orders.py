"""The position monitor's orders: each stored before it is sent (so two workers, or one
restarted, send it once); the events they are notified under and the round's report."""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from mimic.domain.orders import (
    IntentStatus,
    OrderIntent,
    OrderLeg,
    OrderSide,
    monitor_client_order_id,
    monitor_intent_id,
)
from mimic.ports.protection import PositionIntentRepository
from mimic.ports.repositories import OrderIntentRepository, TransactionManager
from mimic.ports.services import Clock, Notifier

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
    """The intents of the monitor's orders: ids derived from the position, stored (and
    held) before they are sent, claimed again when one was left unsettled, and their
    results saved. Sending is the order sender's (`order_sender.MONITOR`)."""

    def __init__(
        self,
        position_intents: PositionIntentRepository,
        intents: OrderIntentRepository,
        notifier: Notifier,
        tx: TransactionManager,
        clock: Clock,
        lease: timedelta,
    ) -> None:
        self._position_intents = position_intents
        self._intents = intents
        self._notifier = notifier
        self._tx = tx
        self._clock = clock
        self._lease = lease

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

    async def claim(self, child: OrderIntent) -> OrderIntent | None:
        """An order stored but not settled (a worker died, an outcome was unknown): held
        again by this worker, or None when another holds it."""
        now = self._clock.now()
        claimed = await self._intents.claim([child.id], now=now, lease_until=now + self._lease)
        await self._tx.commit()
        return claimed[0] if claimed else None

    async def save(self, entry: OrderIntent, intent: OrderIntent, event: str) -> None:
        """What the order sender recorded on `intent`, committed; a refusal is told to the
        follower under `event`."""
        await self._intents.save_results([intent])
        await self._tx.commit()
        if intent.status is IntentStatus.REJECTED:
            await self._notifier.notify(intent.user_id, event, f"{entry.symbol}: {intent.reason}")


def plain(value: Decimal | None) -> str:
    return "none" if value is None else format(value.normalize(), "f")
