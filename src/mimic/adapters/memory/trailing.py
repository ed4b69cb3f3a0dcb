"""Trailing state in this process: the embedded default, whose worker is the HTTP process
(a restart of one is a restart of the other, and trailing starts again from the entry)."""

from mimic.domain.trailing import TrailingState
from mimic.ports.protection import TrailingStateStore


class InMemoryTrailingStateStore(TrailingStateStore):
    def __init__(self) -> None:
        self._states: dict[str, TrailingState] = {}

    async def load(self, key: str) -> TrailingState | None:
        return self._states.get(key)

    async def save(self, key: str, state: TrailingState) -> None:
        self._states[key] = state

    async def discard(self, key: str) -> None:
        self._states.pop(key, None)
