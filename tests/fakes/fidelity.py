"""An in-memory FidelityReader over the in-memory signals, intents and users."""

from collections import Counter
from collections.abc import Collection
from datetime import datetime

from mimic.domain.fidelity import (
    CopySample,
    OutcomeCount,
    StatsByFollower,
    copy_fidelity,
    stats_by_follower,
)
from mimic.domain.orders import IntentStatus
from mimic.domain.signal import Signal
from mimic.ports.fidelity import FidelityReader
from tests.fakes.repositories.order_intents import InMemoryOrderIntentRepository
from tests.fakes.repositories.signals import InMemorySignalRepository
from tests.fakes.repositories.users import InMemoryUserRepository

EVERY_SIGNAL = 1_000_000


class InMemoryFidelityReader(FidelityReader):
    def __init__(
        self,
        signals: InMemorySignalRepository,
        intents: InMemoryOrderIntentRepository,
        users: InMemoryUserRepository,
    ) -> None:
        self._signals = signals
        self._intents = intents
        self._users = users

    async def _of_period(self, since: datetime, source_id: str | None) -> dict[str, Signal]:
        return {
            s.id: s
            for s in await self._signals.list_recent(limit=EVERY_SIGNAL)
            if s.received_at >= since and source_id in (None, s.source_id)
        }

    async def copy_stats_since(self, since: datetime, *, source_id: str | None) -> StatsByFollower:
        signals = await self._of_period(since, source_id)
        samples = []
        for intent in self._intents.all():
            signal = signals.get(intent.signal_id or "")
            if signal is None:
                continue
            copied = copy_fidelity(intent, signal.received_at, signal.reference_price)
            if copied is not None:
                samples.append(CopySample(copied.user_id, copied.latency_ms, copied.slippage_bps))
        return stats_by_follower(samples)

    async def misses_since(self, since: datetime, *, source_id: str | None) -> list[OutcomeCount]:
        signals = await self._of_period(since, source_id)
        counts = Counter(
            (i.user_id, i.status, i.reason)
            for i in self._intents.all()
            if i.signal_id in signals and i.status in (IntentStatus.SKIPPED, IntentStatus.REJECTED)
        )
        return [OutcomeCount(u, s, r, n) for (u, s, r), n in counts.items()]

    async def usernames(self, user_ids: Collection[str]) -> dict[str, str]:
        found = {}
        for user_id in user_ids:
            user = await self._users.get(user_id)
            if user is not None:
                found[user_id] = user.username
        return found
