"""The admin overview's activity reads, in memory (the SQL adapter is tested over HTTP)."""

from collections.abc import Sequence
from datetime import datetime

from mimic.domain.activity import HOUR, CopyingCounts, FailedDelivery
from mimic.domain.orders import IntentStatus, OrderIntent
from mimic.ports.repositories import PlatformActivity


class InMemoryPlatformActivity(PlatformActivity):
    def __init__(self) -> None:
        self.signals_received: list[datetime] = []
        self.orders: list[OrderIntent] = []
        self.failing: list[FailedDelivery] = []
        self.copying_now = CopyingCounts(followers=0, accounts=0)

    async def copying(self) -> CopyingCounts:
        return self.copying_now

    async def signals_per_hour(self, hours: Sequence[datetime]) -> list[int]:
        return [sum(1 for at in self.signals_received if h <= at < h + HOUR) for h in hours]

    async def rejected_orders(self, *, since: datetime, limit: int) -> list[OrderIntent]:
        rejected = [
            o for o in self.orders if o.status is IntentStatus.REJECTED and o.created_at >= since
        ]
        return sorted(rejected, key=lambda o: o.created_at, reverse=True)[:limit]

    async def failed_deliveries(self, *, limit: int) -> list[FailedDelivery]:
        return sorted(self.failing, key=lambda d: d.created_at, reverse=True)[:limit]
