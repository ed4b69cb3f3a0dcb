"""The webhook's store in memory, remembering sources as the SQL one does."""

import copy
from datetime import datetime

from mimic.domain.accounts import SignalSource
from mimic.domain.signal import Signal
from mimic.ports.intake import SignalIntake
from tests.fakes.repositories.signals import (
    InMemorySignalRepository,
    InMemorySignalSourceRepository,
)


class InMemorySignalIntake(SignalIntake):
    def __init__(
        self, sources: InMemorySignalSourceRepository, signals: InMemorySignalRepository
    ) -> None:
        self._sources = sources
        self._signals = signals
        self._remembered: dict[str, SignalSource] = {}
        self.commits = 0
        self.lookups = 0  # of the sources themselves, not of what is remembered

    async def source_by_passphrase_hash(self, passphrase_hash: str) -> SignalSource | None:
        source = self._remembered.get(passphrase_hash)
        if source is None:
            self.lookups += 1
            source = await self._sources.get_by_passphrase_hash(passphrase_hash)
            if source is None or not source.active:
                return source
            self._remembered[passphrase_hash] = source
        return copy.deepcopy(source)

    async def store(
        self, signal: Signal, source: SignalSource, *, expiring_after: datetime
    ) -> tuple[Signal, bool] | None:
        current = await self._sources.get(source.id)
        if current is None or (current.passphrase_hash, current.active, current.direction) != (
            source.passphrase_hash,
            True,
            source.direction,
        ):
            self._remembered.pop(source.passphrase_hash, None)
            return None
        stored = await self._signals.add_unless_duplicate(signal, expiring_after=expiring_after)
        self.commits += 1
        return stored
