"""What the position monitor needs: prices, trailing state that outlives a worker, and the
order intents of the positions it watches."""

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from mimic.domain.orders import OrderIntent
from mimic.domain.trailing import TrailingState


class PriceFeed(Protocol):
    """Latest mark prices of one venue, one subscription per symbol shared by everyone."""

    async def subscribe(self, symbols: Collection[str]) -> None:
        """Start following `symbols` (idempotent); the others stay followed."""
        ...

    async def latest(self, symbols: Collection[str]) -> dict[str, Decimal]:
        """The latest price of each subscribed symbol asked for; one without a price yet
        (or whose feed failed) is left out."""
        ...


class PriceFeeds(Protocol):
    def for_exchange(self, exchange: str) -> PriceFeed | None:
        """The feed of an exchange, or None when Mimic has no prices for it."""
        ...


class TrailingStateStore(Protocol):
    """Trailing state per watched position (keyed by its entry intent's id). It must
    survive a worker restart wherever workers can restart on their own (Redis)."""

    async def load(self, key: str) -> TrailingState | None: ...

    async def save(self, key: str, state: TrailingState) -> None: ...

    async def discard(self, key: str) -> None: ...


class PositionIntentRepository(Protocol):
    """Order intents as the position monitor reads and writes them."""

    async def latest_entries(self, account_ids: Collection[str]) -> list[OrderIntent]:
        """Per (account, symbol), the most recent filled entry: the one that opened the
        position open there now, if any."""
        ...

    async def latest_entries_of(self, positions: Collection[tuple[str, str]]) -> list[OrderIntent]:
        """The same for these (account id, symbol) pairs only: the positions a page shows
        (a few index lookups, however long the account's history)."""
        ...

    async def children(self, parent_ids: Collection[str]) -> list[OrderIntent]:
        """The monitor's orders (trailing stop, DCA, TP/SL outcomes) of these entries."""
        ...

    async def add_if_absent(self, intent: OrderIntent, *, lease_until: datetime | None) -> bool:
        """Insert unless an intent with this (deterministic) id exists; a submitting one is
        held by the caller until `lease_until`. Returns whether it was inserted."""
        ...

    async def add_many_if_absent(self, intents: Sequence[OrderIntent]) -> set[str]:
        """Insert those of `intents` (none of them submitting) whose id is not taken yet,
        all at once; returns the ids it inserted."""
        ...

    async def has_exchange_order(self, account_id: str, exchange_order_id: str) -> bool:
        """Whether one of the account's order intents executed as this exchange order."""
        ...

    async def save_protection(self, entries: Sequence[OrderIntent]) -> None:
        """Store the TP/SL prices (or the error) recorded on these entries."""
        ...
