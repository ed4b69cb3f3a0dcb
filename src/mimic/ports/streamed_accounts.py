"""What each account's live stream last reported of its positions and wallet balances,
shared between the worker that holds the stream (it writes) and whichever worker plans a
signal (it reads), so that planning need not ask the exchange by REST while a stream is
live.

The rules that make it safe to size real orders from (docs/account-events.md):

- A (re)connection starts a new state (`connected`), unusable until it is `seeded` from a
  REST read made after the socket opened; from then on only that connection's `update`s
  change it, each position kept at the newest exchange time reported.
- It lasts `ttl` unless its stream renews it, and a stream that drops says so at once
  (`dropped`): a state whose writer is gone is never read.
- Mimic's own orders: `order_sending` before an order leaves makes its symbol unusable
  (a mark the store did not take is written before anything of the account is read);
  `order_answered` then names the exchange's time of the answer (usable again once the
  stream reports the symbol at or after it) or an unknown outcome; a REST read that began
  after the order was answered (`refreshed`, or a seed) makes it usable too.
- The wallets too: a fill changes them (fee, realized PnL), so while any order of Mimic's
  holds any symbol back they are unknown; an order whose symbol a REST position read made
  usable again still holds the wallets back until the stream reports a wallet at or after
  its answer, or a REST balance read (`wallets_refreshed`, or a seed) began after it.

Anything the state does not know for sure reads as None: the caller reads by REST.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PositionReport:
    """One position as the exchange reported it, at `at_ms` (its time, in ms)."""

    symbol: str  # the exchange's id: BTCUSDT
    side: str  # BOTH in one-way mode; LONG / SHORT in hedge mode
    amount: Decimal  # signed: short < 0
    entry_price: Decimal
    at_ms: int


@dataclass(frozen=True, slots=True)
class WalletReport:
    """One asset's wallet balance (Binance's `wb` / walletBalance), at `at_ms`."""

    asset: str
    wallet: Decimal
    at_ms: int


@dataclass(frozen=True, slots=True)
class SymbolState:
    """What a live, seeded stream says of one symbol with no order of Mimic's pending on it.
    `positions`: every side reported (none: flat); `leverage`: None when not known.
    `flat_wallets`: every asset's wallet balance, only when the whole account is known to
    hold no position on any symbol, its wallets were seeded and no order of Mimic's holds
    them back (then its equity is exactly its wallet); otherwise None."""

    positions: tuple[PositionReport, ...]
    leverage: int | None
    flat_wallets: Mapping[str, Decimal] | None = None


class StreamedAccounts(Protocol):
    # --- the stream's holder ---------------------------------------------------------

    async def connected(self, account_id: str, stream_id: str, ttl: timedelta) -> None:
        """A new connection (`stream_id`, unique) now writes this account's state: what an
        earlier one wrote is forgotten (pending orders stay); unusable until seeded."""
        ...

    async def seeded(
        self,
        account_id: str,
        stream_id: str,
        positions: Sequence[PositionReport],
        leverage: dict[str, int],
        rest_token: int,
        *,
        wallets: Sequence[WalletReport] = (),
    ) -> None:
        """The REST read of every position (and `wallets`, every asset's) made after
        `stream_id` connected (`rest_token` taken before it): positions the read did not
        list are flat; without wallets, the account's wallets stay unknown. Leverage
        reported by the stream meanwhile is kept (it is at least as new)."""
        ...

    async def update(
        self,
        account_id: str,
        stream_id: str,
        positions: Sequence[PositionReport],
        leverage: dict[str, int],
        ttl: timedelta,
        *,
        wallets: Sequence[WalletReport] = (),
    ) -> bool:
        """What `stream_id` reported, in order (positions and wallets of one message in
        one call: a fill's wallet change comes with its position). False (and ignored) if
        the state is not that connection's (another connection took it, or the store lost
        it)."""
        ...

    async def renew(self, account_id: str, stream_id: str, ttl: timedelta) -> bool:
        """Whether the state is still `stream_id`'s (then it lasts `ttl` more)."""
        ...

    async def dropped(self, account_id: str, stream_id: str) -> None:
        """The connection is gone (or a write of it failed): its state is unusable at once.
        Never fails: a drop the store does not take at once is written as soon as it
        answers again, before anything else of the account."""
        ...

    # --- Mimic's orders and REST reads (the gateways) ----------------------------------

    async def order_sending(self, account_id: str, symbol: str) -> int:
        """Before an order on `symbol` leaves; returns the order's token. The mark lasts
        as long as the account's state (a state no stream renews expires with it). Never
        fails: the order leaves anyway, so a mark the store does not take at once is
        written as soon as it answers again, before anything of the account is read."""
        ...

    async def order_answered(
        self, account_id: str, symbol: str, token: int, answered_ms: int | None
    ) -> None:
        """The exchange answered at `answered_ms` (its time); None: the outcome is unknown
        (or the order failed): only a REST read makes the symbol usable again. Never fails
        (written late as a mark is)."""
        ...

    async def rest_token(self, account_id: str) -> int:
        """Taken before a REST read, for `refreshed` / `seeded`."""
        ...

    async def refreshed(
        self,
        account_id: str,
        symbol: str,
        positions: Sequence[PositionReport],
        leverage: int | None,
        rest_token: int,
    ) -> None:
        """A REST read of `symbol` (every side it listed) made after `rest_token` was
        taken: the orders answered before that no longer hold the symbol back."""
        ...

    async def wallets_refreshed(
        self, account_id: str, wallets: Sequence[WalletReport], rest_token: int
    ) -> None:
        """A REST read of the wallets made after `rest_token` was taken: the orders answered
        before that no longer hold the wallets back."""
        ...

    async def read(self, account_id: str, symbol: str) -> SymbolState | None:
        """The symbol's state if it is usable now, else None."""
        ...
