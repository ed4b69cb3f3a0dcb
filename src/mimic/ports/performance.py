"""Storage of daily guardrails, their close-all orders, fills and balance snapshots."""

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Protocol

from mimic.domain.guardrails import GuardrailDay
from mimic.domain.orders import OrderIntent
from mimic.domain.performance import AccountFill, BalanceSnapshot


class GuardrailRepository(Protocol):
    async def days(self, account_ids: Collection[str], day: date) -> dict[str, GuardrailDay]:
        """The stored `day` of each of the accounts that has one."""
        ...

    async def start_days(self, days: Sequence[tuple[str, GuardrailDay]]) -> None:
        """Store (user id, day) pairs; a day stored already (the first observation) stays."""
        ...

    async def record_trip(self, user_id: str, day: GuardrailDay, *, close_all: bool) -> bool:
        """Store `day`'s trip unless one is stored; True when this call stored it.

        With `close_all` the account's positions are still to be closed (see below).
        """
        ...

    async def pending_close_all(self) -> list[tuple[str, GuardrailDay]]:
        """(user id, day) of tripped days whose close-all orders are not planned yet."""
        ...

    async def plan_closes(self, account_id: str, day: date, closes: Sequence[OrderIntent]) -> None:
        """Store the close-all orders of one tripped day (each symbol once) and mark it planned.

        `closes` carry `signal_id` = `guardrail_trip_key(day)` and leg CLOSE.
        """
        ...

    async def claim_closes(self, *, now: datetime, lease_until: datetime) -> list[OrderIntent]:
        """Take every close-all order that is pending or whose lease ran out (attempts + 1)."""
        ...

    async def save_closes(self, closes: Sequence[OrderIntent]) -> None: ...

    async def closes_for_user(self, user_id: str, *, limit: int) -> list[OrderIntent]: ...


class FillRepository(Protocol):
    async def add_new(self, fills: Sequence[tuple[str, str, AccountFill]]) -> int:
        """Store (account id, user id, fill)s not stored yet (by account and fill id);
        returns how many were new."""
        ...

    async def read_marks(self, account_ids: Collection[str]) -> dict[str, datetime]:
        """Up to when each account's fills have been read."""
        ...

    async def set_read_marks(self, marks: Sequence[tuple[str, datetime]]) -> None: ...

    async def latest_order_fill(self, account_ids: Collection[str]) -> dict[str, datetime]:
        """When Mimic last recorded a filled order (signal or close-all) of each account."""
        ...

    async def traded_symbols(self, account_ids: Collection[str]) -> dict[str, set[str]]:
        """Symbols each account has orders or fills on (where to look for new fills)."""
        ...

    async def for_users(self, user_ids: Collection[str]) -> dict[str, dict[str, list[AccountFill]]]:
        """By user, then by account."""
        ...

    async def count_for_user(self, user_id: str) -> int:
        """How many fills the user has. Fills are only ever added, never changed or
        removed: the same count means the same fills."""
        ...


class BalanceSnapshotRepository(Protocol):
    async def add_new(self, snapshots: Sequence[tuple[str, BalanceSnapshot]]) -> int:
        """Store (user id, snapshot)s unless the account has one for that hour already;
        returns how many were new."""
        ...

    async def latest_hours(self, account_ids: Collection[str]) -> dict[str, datetime]:
        """The hour of each account's newest snapshot."""
        ...

    async def history(
        self, account_ids: Collection[str], *, since: datetime | None, limit: int
    ) -> list[BalanceSnapshot]:
        """Oldest first: the first `limit` from `since`, or without it the latest `limit`."""
        ...

    async def for_users(
        self, user_ids: Collection[str], *, since: datetime | None
    ) -> dict[str, list[BalanceSnapshot]]: ...
