"""In-memory signal source and signal repositories."""

import copy
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal

from mimic.domain.accounts import (
    SignalSource,
)
from mimic.domain.errors import (
    Conflict,
)
from mimic.domain.fanout import FanoutPart
from mimic.domain.signal import Signal, SignalStatus, key_expires
from mimic.ports.repositories import (
    SignalRepository,
    SignalSourceRepository,
)
from tests.fakes.repositories.rows import as_stored


class InMemorySignalSourceRepository(SignalSourceRepository):
    def __init__(self) -> None:
        self._rows: dict[str, SignalSource] = {}
        self.used: set[str] = set()  # ids of sources signals came from

    async def add(self, source: SignalSource) -> None:
        if source.id in self._rows or any(
            s.passphrase_hash == source.passphrase_hash for s in self._rows.values()
        ):
            raise Conflict("signal source exists")
        self._rows[source.id] = copy.deepcopy(source)

    async def get_by_passphrase_hash(self, passphrase_hash: str) -> SignalSource | None:
        found = next((s for s in self._rows.values() if s.passphrase_hash == passphrase_hash), None)
        return copy.deepcopy(found)

    async def count(self) -> int:
        return len(self._rows)

    async def list_all(self) -> list[SignalSource]:
        return copy.deepcopy(sorted(self._rows.values(), key=lambda s: (s.name, s.id)))

    async def get(self, source_id: str) -> SignalSource | None:
        return copy.deepcopy(self._rows.get(source_id))

    async def save(self, source: SignalSource) -> None:
        if source.id in self._rows:
            self._rows[source.id] = copy.deepcopy(source)

    async def delete_unused(self, source_id: str) -> bool:
        if source_id not in self._rows or source_id in self.used:
            return False
        del self._rows[source_id]
        return True

    def all(self) -> list[SignalSource]:
        return copy.deepcopy(list(self._rows.values()))


class InMemorySignalRepository(SignalRepository):
    def __init__(self) -> None:
        self._rows: dict[str, Signal] = {}

    async def add_unless_duplicate(
        self, signal: Signal, *, expiring_after: datetime
    ) -> tuple[Signal, bool]:
        for stored in self._rows.values():
            if stored.source_id != signal.source_id or stored.dedupe_key != signal.dedupe_key:
                continue
            if key_expires(stored.dedupe_key) and stored.received_at <= expiring_after:
                continue  # a body hash outside the window no longer counts
            return copy.deepcopy(stored), True
        if signal.id in self._rows:
            raise Conflict(f"signal {signal.id} exists")
        self._rows[signal.id] = as_stored(signal)
        return copy.deepcopy(signal), False

    async def get(self, signal_id: str) -> Signal | None:
        return copy.deepcopy(self._rows.get(signal_id))

    async def list_recent(self, *, limit: int, source_id: str | None = None) -> list[Signal]:
        chosen = [s for s in self._rows.values() if source_id in (None, s.source_id)]
        ordered = sorted(chosen, key=lambda s: (s.received_at, s.id), reverse=True)
        return copy.deepcopy(ordered[:limit])

    async def source_ids(self, signal_ids: Collection[str]) -> dict[str, str]:
        return {i: self._rows[i].source_id for i in signal_ids if i in self._rows}

    async def set_status(self, signal_id: str, status: SignalStatus) -> None:
        if signal_id in self._rows:
            self._rows[signal_id].status = status

    async def set_reference(self, signal_id: str, price: Decimal, at: datetime) -> None:
        stored = self._rows.get(signal_id)
        if stored is not None and stored.reference_price is None:
            stored.reference_price, stored.reference_at = price, at

    async def list_next_in_line(self) -> list[Signal]:
        ordered = sorted(self._rows.values(), key=lambda s: (s.received_at, s.id))
        return copy.deepcopy(
            [
                s
                for s in ordered
                if s.status is not SignalStatus.DONE and not await self.has_unfinished_before(s)
            ]
        )

    async def first_unfinished(self, source_id: str, symbol: str) -> Signal | None:
        ordered = sorted(self._rows.values(), key=lambda s: (s.received_at, s.id))
        found = next(
            (
                s
                for s in ordered
                if s.source_id == source_id
                and s.params.symbol == symbol
                and s.status is not SignalStatus.DONE
            ),
            None,
        )
        return copy.deepcopy(found)

    async def finish_part(self, signal_id: str, part: FanoutPart) -> bool:
        stored = self._rows.get(signal_id)
        if stored is None:
            return False
        stored.finished_parts = stored.finished_parts | {part.index}
        if len(stored.finished_parts) == part.count:
            stored.status = SignalStatus.DONE
        return stored.status is SignalStatus.DONE

    async def has_unfinished_before(self, signal: Signal) -> bool:
        # Ties on received_at are broken by id, as the SQL adapter does.
        return any(
            s.source_id == signal.source_id
            and s.params.symbol == signal.params.symbol
            and s.status is not SignalStatus.DONE
            and s.id != signal.id
            and (s.received_at, s.id) < (signal.received_at, signal.id)
            for s in self._rows.values()
        )

    def all(self) -> list[Signal]:
        return copy.deepcopy(list(self._rows.values()))

    def lose_done_marks(self, signal_id: str) -> None:
        """As if the signal's done mark and its parts' finish marks never got stored."""
        stored = self._rows[signal_id]
        stored.status, stored.finished_parts = SignalStatus.PROCESSING, frozenset()
