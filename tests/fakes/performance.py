"""In-memory adapters of the ports in mimic.ports.performance.

Adapters implementing the ports, with the same uniqueness rules as
the database (one guardrail day per account and day, one trip, one fill per id, one
snapshot per account and hour), handing out copies.
"""

import copy
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date, datetime

from mimic.domain.guardrails import GuardrailDay
from mimic.domain.orders import IntentStatus, OrderIntent
from mimic.domain.performance import AccountFill, BalanceSnapshot
from mimic.ports.performance import (
    BalanceSnapshotRepository,
    FillRepository,
    GuardrailRepository,
)
from tests.fakes.repositories.order_intents import InMemoryOrderIntentRepository


class InMemoryGuardrailRepository(GuardrailRepository):
    def __init__(self) -> None:
        self.stored: dict[tuple[str, date], tuple[str, GuardrailDay, bool]] = {}
        self.closes: dict[tuple[str, date, str], OrderIntent] = {}
        self.leases: dict[str, datetime] = {}

    async def days(self, account_ids: Collection[str], day: date) -> dict[str, GuardrailDay]:
        return {a: self.stored[(a, day)][1] for a in account_ids if (a, day) in self.stored}

    async def start_days(self, days: Sequence[tuple[str, GuardrailDay]]) -> None:
        for user_id, day in days:
            self.stored.setdefault((day.account_id, day.day), (user_id, replace(day), False))

    async def record_trip(self, user_id: str, day: GuardrailDay, *, close_all: bool) -> bool:
        key = (day.account_id, day.day)
        stored = self.stored.get(key)
        if stored is None or stored[1].trip is not None:
            return False
        self.stored[key] = (stored[0], replace(stored[1], trip=day.trip), close_all)
        return True

    async def pending_close_all(self) -> list[tuple[str, GuardrailDay]]:
        return [(user, day) for user, day, pending in self.stored.values() if pending]

    async def plan_closes(self, account_id: str, day: date, closes: Sequence[OrderIntent]) -> None:
        for close in closes:
            self.closes.setdefault((account_id, day, close.symbol), copy.deepcopy(close))
        user, stored, _ = self.stored[(account_id, day)]
        self.stored[(account_id, day)] = (user, stored, False)

    async def claim_closes(self, *, now: datetime, lease_until: datetime) -> list[OrderIntent]:
        claimed = []
        for close in self.closes.values():
            lease = self.leases.get(close.id)
            expired = close.status is IntentStatus.SUBMITTING and (lease is None or lease < now)
            if close.status is IntentStatus.PENDING or expired:
                close.status = IntentStatus.SUBMITTING
                close.attempts += 1
                self.leases[close.id] = lease_until
                claimed.append(copy.deepcopy(close))
        return claimed

    async def save_closes(self, closes: Sequence[OrderIntent]) -> None:
        for close in closes:
            day = date.fromisoformat(close.signal_id.removeprefix("guardrail:"))
            self.closes[(close.account_id, day, close.symbol)] = copy.deepcopy(close)
            if close.status.is_final:
                self.leases.pop(close.id, None)

    async def closes_for_user(self, user_id: str, *, limit: int) -> list[OrderIntent]:
        found = [copy.deepcopy(c) for c in self.closes.values() if c.user_id == user_id]
        return found[:limit]


class InMemoryFillRepository(FillRepository):
    """Reads Mimic's orders (signal intents, close-all orders) from the given fakes."""

    def __init__(
        self, intents: InMemoryOrderIntentRepository, guardrail_days: InMemoryGuardrailRepository
    ) -> None:
        self.rows: dict[tuple[str, str], tuple[str, AccountFill]] = {}
        self.marks: dict[str, datetime] = {}
        self._intents = intents
        self._guardrail_days = guardrail_days

    async def add_new(self, fills: Sequence[tuple[str, str, AccountFill]]) -> int:
        added = 0
        for account_id, user_id, fill in fills:
            if (account_id, fill.fill_id) not in self.rows:
                self.rows[(account_id, fill.fill_id)] = (user_id, fill)
                added += 1
        return added

    async def read_marks(self, account_ids: Collection[str]) -> dict[str, datetime]:
        return {a: until for a, until in self.marks.items() if a in account_ids}

    async def set_read_marks(self, marks: Sequence[tuple[str, datetime]]) -> None:
        self.marks.update(marks)

    async def latest_order_fill(self, account_ids: Collection[str]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for order in [*self._intents.all(), *self._guardrail_days.closes.values()]:
            a, at = order.account_id, order.updated_at
            if a in account_ids and order.status is IntentStatus.FILLED and at is not None:
                found[a] = max(found.get(a, at), at)
        return found

    async def traded_symbols(self, account_ids: Collection[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for (a, _), (_, f) in self.rows.items():
            if a in account_ids:
                found[a].add(f.symbol)
        for order in [*self._intents.all(), *self._guardrail_days.closes.values()]:
            if order.account_id in account_ids:
                found[order.account_id].add(order.symbol)
        return dict(found)

    async def for_users(self, user_ids: Collection[str]) -> dict[str, dict[str, list[AccountFill]]]:
        """In time order, each with the source of the signal its order was placed for (read
        from the order intents, as SQL joins them; None for any other order)."""
        sources = self._order_sources()
        found: dict[str, dict[str, list[AccountFill]]] = defaultdict(lambda: defaultdict(list))
        in_time = sorted(self.rows.items(), key=lambda r: (r[1][1].executed_at, r[0][1]))
        for (a, _), (user, fill) in in_time:
            if user in user_ids:
                found[user][a].append(replace(fill, source_id=sources.get((a, fill.order_id))))
        return {u: dict(accounts) for u, accounts in found.items()}

    def _order_sources(self) -> dict[tuple[str, str | None], str]:
        """(account id, exchange order id) -> source id of the orders placed for a signal."""
        signals = {s.id: s.source_id for s in self._intents.signals.all()}
        found: dict[tuple[str, str | None], str] = {}
        for order in self._intents.all():
            source = signals.get(order.signal_id)
            if order.exchange_order_id is not None and source is not None:
                key = (order.account_id, order.exchange_order_id)
                found[key] = min(found.get(key, source), source)
        return found

    async def count_for_user(self, user_id: str) -> int:
        return sum(1 for user, _ in self.rows.values() if user == user_id)


class InMemoryBalanceSnapshotRepository(BalanceSnapshotRepository):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, datetime], tuple[str, BalanceSnapshot]] = {}

    async def add_new(self, snapshots: Sequence[tuple[str, BalanceSnapshot]]) -> int:
        added = 0
        for user_id, snapshot in snapshots:
            key = (snapshot.account_id, snapshot.hour)
            if key not in self.rows:
                self.rows[key] = (user_id, snapshot)
                added += 1
        return added

    async def latest_hours(self, account_ids: Collection[str]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for a, hour in self.rows:
            if a in account_ids:
                found[a] = max(found.get(a, hour), hour)
        return found

    async def history(
        self, account_ids: Collection[str], *, since: datetime | None, limit: int
    ) -> list[BalanceSnapshot]:
        found = [
            s
            for (a, hour), (_, s) in sorted(self.rows.items(), key=lambda kv: (kv[0][1], kv[0][0]))
            if a in account_ids and (since is None or hour >= since)
        ]
        return found[:limit] if since is not None else found[-limit:]

    async def for_users(
        self, user_ids: Collection[str], *, since: datetime | None
    ) -> dict[str, list[BalanceSnapshot]]:
        found: dict[str, list[BalanceSnapshot]] = defaultdict(list)
        for (_, hour), (user, s) in sorted(self.rows.items(), key=lambda kv: kv[0][1]):
            if user in user_ids and (since is None or hour >= since):
                found[user].append(s)
        return dict(found)
