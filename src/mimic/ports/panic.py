"""What the panic switch needs from outside: its one-time passwords, its guard against a
code used twice, its runs and the closes it sends."""

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from mimic.domain.orders import NO_FILTERS, OrderFilters, OrderIntent
from mimic.domain.panic import PanicGuardState, PanicRun


class OneTimePasswords(Protocol):
    """The panic switch's TOTP."""

    def matching_step(self, code: str, now: datetime) -> int | None:
        """The time step `code` is valid for at `now` (one step of clock drift allowed)."""
        ...

    def provisioning_uri(self, account_name: str) -> str: ...


class PanicGuardStore(Protocol):
    async def load(self) -> PanicGuardState: ...

    async def save(self, state: PanicGuardState, *, expected_last_step: int) -> bool:
        """Store unless another attempt accepted a code meanwhile (last step moved on)."""
        ...


class PanicRunRepository(Protocol):
    async def add(self, run: PanicRun) -> None: ...

    async def save(self, run: PanicRun) -> None: ...

    async def get(self, run_id: str) -> PanicRun | None: ...


class PanicCloseRepository(Protocol):
    """Reduce-only closes of a panic run, stored before they are sent (like order intents)."""

    async def add_new(self, closes: Sequence[OrderIntent], *, run_id: str) -> None: ...

    async def save_results(self, closes: Sequence[OrderIntent], *, run_id: str) -> None: ...

    async def list_for_user(
        self, user_id: str, *, limit: int, filters: OrderFilters = NO_FILTERS
    ) -> list[OrderIntent]:
        """Newest first; only those `filters` let through."""
        ...
