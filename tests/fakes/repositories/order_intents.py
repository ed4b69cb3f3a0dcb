"""In-memory OrderIntentRepository."""

import copy
from collections.abc import Collection, Sequence
from datetime import datetime

from mimic.domain.fanout import FanoutPart
from mimic.domain.orders import (
    NO_FILTERS,
    IntentStatus,
    OrderFilters,
    OrderIntent,
)
from mimic.ports.repositories import (
    OrderIntentRepository,
)
from tests.fakes.repositories.signals import InMemorySignalRepository


class InMemoryOrderIntentRepository(OrderIntentRepository):
    """Unique per (signal, account, leg); claims follow the port and the SQL adapter.

    A claim takes intents that are pending, or submitting with a lease that ran out; it
    marks them submitting, adds one attempt and sets the lease. A final result drops the
    lease; an unsettled one keeps it.
    """

    def __init__(self) -> None:
        self._rows: dict[str, OrderIntent] = {}
        # Where an order's source is read from (SQL joins the signals table): a world
        # shares its signals here.
        self.signals = InMemorySignalRepository()
        self.leases: dict[str, datetime | None] = {}
        self.claims: list[list[str]] = []

    async def add_new(
        self, intents: Sequence[OrderIntent], *, lease_until: datetime | None = None
    ) -> set[str]:
        taken = {(i.signal_id, i.account_id, i.leg) for i in self._rows.values()}
        inserted: set[str] = set()
        for intent in intents:
            key = (intent.signal_id, intent.account_id, intent.leg)
            # Without a signal (the position monitor's orders) only the id is unique.
            if (intent.signal_id is not None and key in taken) or intent.id in self._rows:
                continue
            taken.add(key)
            inserted.add(intent.id)
            self._rows[intent.id] = copy.deepcopy(intent)
            held = intent.status is IntentStatus.SUBMITTING
            self.leases[intent.id] = lease_until if held else None
        return inserted

    async def has_unsettled(self, signal_id: str, *, part: FanoutPart) -> bool:
        return any(
            not i.status.is_final
            for i in self._rows.values()
            if i.signal_id == signal_id and part.holds(i.account_id)
        )

    async def list_for_signal(
        self, signal_id: str, *, part: FanoutPart | None = None
    ) -> list[OrderIntent]:
        found = [
            i
            for i in self._rows.values()
            if i.signal_id == signal_id and (part is None or part.holds(i.account_id))
        ]
        return copy.deepcopy(sorted(found, key=lambda i: (i.created_at, i.id)))

    async def signals_in_hand(self, signal_ids: Collection[str], *, now: datetime) -> set[str]:
        return {
            i.signal_id
            for i in self._rows.values()
            if i.signal_id in signal_ids and (self.leases.get(i.id) or now) > now
        }

    async def list_for_user(
        self, user_id: str, *, limit: int, filters: OrderFilters = NO_FILTERS
    ) -> list[OrderIntent]:
        sources = await self.signals.source_ids({i.signal_id for i in self._rows.values()})
        found = [
            i
            for i in self._rows.values()
            if i.user_id == user_id and filters.admits(i, sources.get(i.signal_id or ""))
        ]
        found.sort(key=lambda i: (i.created_at, i.id), reverse=True)
        return copy.deepcopy(found[:limit])

    async def claim(
        self, intent_ids: Sequence[str], *, now: datetime, lease_until: datetime
    ) -> list[OrderIntent]:
        claimed = []
        for intent_id in dict.fromkeys(intent_ids):
            stored = self._rows.get(intent_id)
            if stored is None:
                continue
            lease = self.leases[intent_id]
            takeable = stored.status is IntentStatus.PENDING or (
                stored.status is IntentStatus.SUBMITTING and (lease is None or lease < now)
            )
            if not takeable:
                continue
            stored.status = IntentStatus.SUBMITTING
            stored.attempts += 1
            self.leases[intent_id] = lease_until
            claimed.append(copy.deepcopy(stored))
        self.claims.append([i.id for i in claimed])
        return claimed

    async def save_results(self, intents: Sequence[OrderIntent]) -> None:
        for intent in intents:
            stored = self._rows.get(intent.id)
            if stored is None or stored.attempts != intent.attempts:
                continue  # claimed again since: that worker's now
            stored.status = intent.status
            stored.reason = intent.reason
            stored.exchange_order_id = intent.exchange_order_id
            stored.filled_quantity = intent.filled_quantity
            stored.average_price = intent.average_price
            stored.fee = intent.fee
            stored.updated_at = intent.updated_at
            stored.stop_loss_price = intent.stop_loss_price
            stored.take_profit_price = intent.take_profit_price
            stored.protection_error = intent.protection_error
            stored.acknowledged_at = intent.acknowledged_at
            if intent.status.is_final:
                self.leases[intent.id] = None

    def all(self) -> list[OrderIntent]:
        return copy.deepcopy(list(self._rows.values()))
