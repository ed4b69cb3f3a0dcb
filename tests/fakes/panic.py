"""In-memory adapters of the ports in mimic.ports.panic."""

import copy
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from mimic.domain.orders import NO_FILTERS, OrderFilters, OrderIntent
from mimic.domain.panic import PanicGuardState, PanicRun
from mimic.ports.panic import (
    OneTimePasswords,
    PanicCloseRepository,
    PanicGuardStore,
    PanicRunRepository,
)


class FixedOtp(OneTimePasswords):
    """Code "<step>" is valid for that step while the test's `step` says so."""

    def __init__(self, step: int = 100) -> None:
        self.step = step

    def matching_step(self, code: str, now: datetime) -> int | None:
        if code.isdigit() and int(code) in (self.step - 1, self.step):
            return int(code)
        return None

    def provisioning_uri(self, account_name: str) -> str:
        return f"otpauth://totp/{account_name}?secret=TEST"


class InMemoryPanicGuard(PanicGuardStore):
    def __init__(self) -> None:
        self.state = PanicGuardState()

    async def load(self) -> PanicGuardState:
        return replace(self.state)

    async def save(self, state: PanicGuardState, *, expected_last_step: int) -> bool:
        if self.state.last_step != expected_last_step:
            return False
        self.state = replace(state)
        return True


class InMemoryPanicRuns(PanicRunRepository):
    def __init__(self) -> None:
        self.runs: dict[str, PanicRun] = {}

    async def add(self, run: PanicRun) -> None:
        self.runs[run.id] = copy.deepcopy(run)

    async def save(self, run: PanicRun) -> None:
        self.runs[run.id] = copy.deepcopy(run)

    async def get(self, run_id: str) -> PanicRun | None:
        return copy.deepcopy(self.runs.get(run_id))


class InMemoryPanicCloses(PanicCloseRepository):
    def __init__(self) -> None:
        self.closes: dict[str, OrderIntent] = {}

    async def add_new(self, closes: Sequence[OrderIntent], *, run_id: str) -> None:
        for close in closes:
            self.closes.setdefault(close.id, replace(close))

    async def save_results(self, closes: Sequence[OrderIntent], *, run_id: str) -> None:
        for close in closes:
            self.closes[close.id] = replace(close)

    async def list_for_user(
        self, user_id: str, *, limit: int, filters: OrderFilters = NO_FILTERS
    ) -> list[OrderIntent]:
        found = [c for c in self.closes.values() if c.user_id == user_id and filters.admits(c)]
        found.sort(key=lambda c: (c.created_at, c.id), reverse=True)
        return found[:limit]
