"""Daily guardrails at work: observed during a fan-out's planning and by the portfolio sync.

Planning runs concurrently per account, so the guardrail days are read in bulk before it
(`DailyGuardrails.load`), observed in memory (`GuardrailBook.check_entry`) and written in
bulk after it (`DailyGuardrails.save`): no session is shared by concurrent tasks.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from mimic.domain.accounts import ExchangeAccount, User
from mimic.domain.guardrails import (
    GuardrailDay,
    Trip,
    TripKind,
    entry_block,
    guardrail_trip_key,
    newly_tripped,
    observe,
    utc_day,
)
from mimic.domain.orders import OrderIntent, OrderLeg, client_order_id
from mimic.domain.positions import Position
from mimic.ports.performance import GuardrailRepository
from mimic.ports.services import Clock, Notifier

log = logging.getLogger(__name__)

TRIPPED_EVENT = "guardrail.tripped"
# How long a sync holds the close-all orders it sends (as an intent's lease).
CLOSE_LEASE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class TripRecord:
    user_id: str
    day: GuardrailDay
    trip: Trip
    close_all: bool


class GuardrailBook:
    """Today's guardrail days of a set of accounts, observed in memory."""

    def __init__(self, stored: dict[str, GuardrailDay], now: datetime) -> None:
        self._stored = stored
        self._now = now
        self._observed: dict[str, tuple[User, GuardrailDay]] = {}

    def check_entry(self, account: ExchangeAccount, user: User, equity: Decimal) -> str | None:
        """Observe the account's equity; the reason a new entry is refused, or None.

        A follower without daily limits is neither observed nor blocked (switching the
        limits off lifts a trip too): the fan-out writes nothing for them.
        """
        if not user.guardrails.enabled:
            return None
        return self.observe(account, user, equity)

    def observe(self, account: ExchangeAccount, user: User, equity: Decimal) -> str | None:
        """Record the account's equity (the day's first one is its start); as check_entry."""
        before = self._observed.get(account.id, (user, self._stored.get(account.id)))[1]
        after = observe(
            user.guardrails, before, account_id=account.id, equity=equity, now=self._now
        )
        self._observed[account.id] = (user, after)
        return entry_block(after, self._now)

    def changes(self) -> tuple[list[tuple[str, GuardrailDay]], list[TripRecord]]:
        """(days to start, trips to record) since the book was loaded."""
        starts: list[tuple[str, GuardrailDay]] = []
        trips: list[TripRecord] = []
        for account_id, (user, day) in self._observed.items():
            before = self._stored.get(account_id)
            if before is None or before.day != day.day:
                starts.append((user.id, day))
            trip = newly_tripped(before, day)
            if trip is not None:
                close_all = (
                    trip.kind is TripKind.DRAWDOWN_STOP and user.guardrails.close_all_on_drawdown
                )
                trips.append(TripRecord(user.id, day, trip, close_all))
        return starts, trips


class DailyGuardrails:
    def __init__(self, repository: GuardrailRepository, notifier: Notifier, clock: Clock) -> None:
        self._repository = repository
        self._notifier = notifier
        self._clock = clock

    async def load(self, account_ids: Sequence[str]) -> GuardrailBook:
        now = self._clock.now()
        return GuardrailBook(await self._repository.days(account_ids, utc_day(now)), now)

    async def save(self, book: GuardrailBook) -> list[TripRecord]:
        """Writes what the book observed (the caller commits); returns the trips it won.

        Two observers may see the same fall at once: only one records the trip, so only
        one closes positions and notifies.
        """
        starts, trips = book.changes()
        if starts:
            await self._repository.start_days(starts)
        won = []
        for record in trips:
            if await self._repository.record_trip(
                record.user_id, record.day, close_all=record.close_all
            ):
                won.append(record)
        return won

    async def announce(self, trips: Sequence[TripRecord]) -> None:
        """After the commit: tell each follower (best effort)."""
        for record in trips:
            text = record.trip.reason
            if record.close_all:
                text += "; open positions are being closed"
            try:
                await self._notifier.notify(record.user_id, TRIPPED_EVENT, text)
            except Exception:  # a notification never undoes a stored trip
                log.exception("guardrail notification to %s failed", record.user_id)


def plan_close_all(
    account_id: str, user_id: str, day: date, positions: Sequence[Position], now: datetime
) -> list[OrderIntent]:
    """One reduce-only market close per open position, with a deterministic client id."""
    trip_key = guardrail_trip_key(day)
    closes = []
    for position in positions:
        intent = OrderIntent(
            id=uuid.uuid4().hex,
            signal_id=trip_key,
            account_id=account_id,
            user_id=user_id,
            leg=OrderLeg.CLOSE,
            symbol=position.symbol,
            side=position.side.closing_side,
            quantity=position.quantity,
            reduce_only=True,
            leverage=None,
            client_order_id=client_order_id(
                f"{trip_key}:{position.symbol}", account_id, OrderLeg.CLOSE
            ),
            created_at=now,
            updated_at=now,
        )
        closes.append(intent)
    return closes
