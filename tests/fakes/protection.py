"""In-memory adapters of the ports in mimic.ports.protection."""

import copy
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from mimic.domain.orders import (
    IntentStatus,
    OrderIntent,
    OrderLeg,
)
from mimic.ports.protection import PositionIntentRepository, PriceFeed
from tests.fakes.repositories.order_intents import InMemoryOrderIntentRepository


class InMemoryPositionIntentRepository(PositionIntentRepository):
    """The position monitor's view of the same rows as an InMemoryOrderIntentRepository."""

    def __init__(self, intents: InMemoryOrderIntentRepository) -> None:
        self._intents = intents

    async def latest_entries(self, account_ids: Collection[str]) -> list[OrderIntent]:
        latest: dict[tuple[str, str], OrderIntent] = {}
        for intent in self._intents._rows.values():
            if (
                intent.account_id in account_ids
                and intent.leg is OrderLeg.ENTRY
                and intent.status is IntentStatus.FILLED
            ):
                key = (intent.account_id, intent.symbol)
                if key not in latest or latest[key].created_at < intent.created_at:
                    latest[key] = intent
        return copy.deepcopy([latest[k] for k in sorted(latest)])

    async def latest_entries_of(self, positions: Collection[tuple[str, str]]) -> list[OrderIntent]:
        wanted = set(positions)
        entries = await self.latest_entries({account_id for account_id, _ in wanted})
        return [e for e in entries if (e.account_id, e.symbol) in wanted]

    async def children(self, parent_ids: Collection[str]) -> list[OrderIntent]:
        found = [i for i in self._intents._rows.values() if i.parent_id in parent_ids]
        return copy.deepcopy(sorted(found, key=lambda i: (i.created_at, i.id)))

    async def add_if_absent(self, intent: OrderIntent, *, lease_until: datetime | None) -> bool:
        if intent.id in self._intents._rows:
            return False
        self._intents._rows[intent.id] = copy.deepcopy(intent)
        held = intent.status is IntentStatus.SUBMITTING
        self._intents.leases[intent.id] = lease_until if held else None
        return True

    async def add_many_if_absent(self, intents: Sequence[OrderIntent]) -> set[str]:
        return {i.id for i in intents if await self.add_if_absent(i, lease_until=None)}

    async def has_exchange_order(self, account_id: str, exchange_order_id: str) -> bool:
        return any(
            i.account_id == account_id and i.exchange_order_id == exchange_order_id
            for i in self._intents._rows.values()
        )

    async def save_protection(self, entries: Sequence[OrderIntent]) -> None:
        for entry in entries:
            stored = self._intents._rows[entry.id]
            stored.stop_loss_price = entry.stop_loss_price
            stored.take_profit_price = entry.take_profit_price
            stored.protection_error = entry.protection_error


class DictPriceFeed(PriceFeed):
    """Prices set by the test; every symbol counts as followed."""

    def __init__(self, prices: Mapping[str, Decimal] | None = None) -> None:
        self.prices: dict[str, Decimal] = dict(prices or {})

    async def subscribe(self, symbols: Collection[str]) -> None:
        """Nothing to subscribe to."""

    async def latest(self, symbols: Collection[str]) -> dict[str, Decimal]:
        return {s: self.prices[s] for s in symbols if s in self.prices}
