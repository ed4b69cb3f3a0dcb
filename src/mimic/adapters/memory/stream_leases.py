"""Stream leases of the embedded mode: one process, which holds every account's stream."""

from collections.abc import Collection
from datetime import timedelta

from mimic.ports.account_events import StreamLeases


class SoleHolderLeases(StreamLeases):
    def __init__(self, period: timedelta = timedelta(seconds=3)) -> None:
        self._period = period

    @property
    def period(self) -> timedelta:
        return self._period

    async def hold(self, wanted: Collection[str], held: Collection[str]) -> set[str]:
        return set(wanted)

    async def release(self, account_ids: Collection[str]) -> None:
        return None
