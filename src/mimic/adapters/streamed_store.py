"""ports.streamed_accounts on a store of each account's fields (memory, Redis), with the
rules of adapters/streamed_state.py.

An order's mark that the store did not take (Redis away at that moment) is kept here: the
order goes out anyway, since trading does not wait on the store, so the state the store
still holds may be from before the order. So is a connection's `dropped` (its socket
closed, or one of its writes failed and left a gap): the state it leaves must not be read.
Nothing of that account is read or changed here before they are written (a read goes to
REST), and they are written as soon as the store answers again: by the next call on that
account, or by a retry every `_RETRY_SECONDS`, which does not wait out the store's pause
after a failure. Once written they act as if written in time (docs/account-events.md).
"""

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from mimic.adapters.streamed_state import (
    Change,
    Fields,
    LateOrder,
    connected,
    dropped,
    late_orders,
    order_answered,
    order_sending,
    read,
    refreshed,
    renew,
    rest_token,
    seeded,
    update,
    wallets_refreshed,
)
from mimic.ports.streamed_accounts import (
    PositionReport,
    StreamedAccounts,
    SymbolState,
    WalletReport,
)

log = logging.getLogger(__name__)

_RETRY_SECONDS = 0.5


class MarksNotWritten(Exception):
    """The account's late marks are not written yet: its state is not to be read."""


@dataclass(slots=True)
class _LateMark:
    symbol: str
    token: int | None = None  # the store's token, once the sending is written
    answered: bool = False
    answered_ms: int | None = None

    @property
    def unwritten(self) -> bool:
        return self.token is None or self.answered


class FieldStore(StreamedAccounts):
    """The port on a store of each account's fields: a store gives `_apply` (run one rule
    on the account's fields, atomically) and `_load`."""

    def __init__(self, orphan_ttl: timedelta) -> None:
        """`orphan_ttl`: how long marks written to an account no stream writes (an order's,
        a REST read's) last: an account whose stream never comes leaves nothing behind."""
        self._orphan_ttl = orphan_ttl
        # Late marks by account, each under the token its order was given here (< 0).
        self._late: dict[str, dict[int, _LateMark]] = {}
        # Connections whose `dropped` the store did not take, by account.
        self._late_drops: dict[str, str] = {}
        self._local_tokens = itertools.count(-1, -1)
        self._writing_late = asyncio.Lock()
        self._retrying: asyncio.Task[None] | None = None

    async def _apply(self, account_id: str, rule: Callable[[Fields], Change]) -> int:
        raise NotImplementedError

    async def _apply_now(self, account_id: str, rule: Callable[[Fields], Change]) -> int:
        """`_apply`, even while the store pauses after a failure (the late marks' retry)."""
        return await self._apply(account_id, rule)

    async def _load(self, account_id: str) -> Fields:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Stops retrying the late marks (the process ends: its orders' marks with it)."""
        if self._retrying is not None:
            self._retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrying

    # --- the stream's holder ---------------------------------------------------------

    async def connected(self, account_id: str, stream_id: str, ttl: timedelta) -> None:
        await self._change(account_id, lambda f: connected(f, stream_id, ttl))

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
        await self._change(
            account_id, lambda f: seeded(f, stream_id, positions, leverage, rest_token, wallets)
        )

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
        rule = lambda f: update(f, stream_id, positions, leverage, ttl, wallets)  # noqa: E731
        return await self._change(account_id, rule) == 1

    async def renew(self, account_id: str, stream_id: str, ttl: timedelta) -> bool:
        return await self._change(account_id, lambda f: renew(f, stream_id, ttl)) == 1

    async def dropped(self, account_id: str, stream_id: str) -> None:
        """Never fails: a drop the store does not take now is written late (a state whose
        writer is gone, or has a gap, must not be read until it expires)."""
        try:
            await self._change(account_id, lambda f: dropped(f, stream_id))
        except Exception:
            log.warning("streamed account state: %s is dropped late", account_id, exc_info=True)
            self._late_drops[account_id] = stream_id
            self._retry_soon()

    # --- Mimic's orders and REST reads -------------------------------------------------

    async def order_sending(self, account_id: str, symbol: str) -> int:
        """Never fails: a mark the store does not take now is kept here (see above)."""
        try:
            return await self._change(
                account_id, lambda f: order_sending(f, symbol, self._orphan_ttl)
            )
        except Exception:
            log.warning(
                "streamed account state: the mark of an order of %s on %s is written late",
                account_id,
                symbol,
                exc_info=True,
            )
            return self._keep_late(account_id, _LateMark(symbol))

    async def order_answered(
        self, account_id: str, symbol: str, token: int, answered_ms: int | None
    ) -> None:
        """Never fails: an answer the store does not take now is kept here (see above)."""
        late = self._late.get(account_id, {}).get(token)
        if late is not None:  # the order's sending is itself late
            late.answered, late.answered_ms = True, answered_ms
            try:
                await self._write_late(account_id)
            except MarksNotWritten:
                self._retry_soon()
            return
        try:
            await self._change(
                account_id,
                lambda f: order_answered(f, symbol, token, answered_ms, self._orphan_ttl),
            )
        except Exception:
            log.warning(
                "streamed account state: the answer of an order of %s on %s is written late",
                account_id,
                symbol,
                exc_info=True,
            )
            self._keep_late(account_id, _LateMark(symbol, token, True, answered_ms))

    async def rest_token(self, account_id: str) -> int:
        return await self._change(account_id, lambda f: rest_token(f, self._orphan_ttl))

    async def refreshed(
        self,
        account_id: str,
        symbol: str,
        positions: Sequence[PositionReport],
        leverage: int | None,
        rest_token: int,
    ) -> None:
        await self._change(
            account_id, lambda f: refreshed(f, symbol, positions, leverage, rest_token)
        )

    async def wallets_refreshed(
        self, account_id: str, wallets: Sequence[WalletReport], rest_token: int
    ) -> None:
        await self._change(account_id, lambda f: wallets_refreshed(f, wallets, rest_token))

    async def read(self, account_id: str, symbol: str) -> SymbolState | None:
        await self._write_late(account_id)
        return read(await self._load(account_id), symbol)

    # --- late marks ----------------------------------------------------------------------

    async def _change(self, account_id: str, rule: Callable[[Fields], Change]) -> int:
        """`rule` on the account's fields, after its late marks (if any) are written."""
        await self._write_late(account_id)
        return await self._apply(account_id, rule)

    def _keep_late(self, account_id: str, mark: _LateMark) -> int:
        token = next(self._local_tokens)
        self._late.setdefault(account_id, {})[token] = mark
        self._retry_soon()
        return token

    def _retry_soon(self) -> None:
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.create_task(self._retry_late())

    def _unwritten(self, account_id: str) -> bool:
        marks = self._late.get(account_id, {})
        return account_id in self._late_drops or any(m.unwritten for m in marks.values())

    async def _write_late(self, account_id: str, *, now: bool = False) -> None:
        """Writes the account's late drop and marks, or raises MarksNotWritten (its state is
        not to be read or changed meanwhile). `now`: even while the store pauses after a
        failure."""
        if not self._unwritten(account_id):
            return
        if self._writing_late.locked():  # being written: not read meanwhile
            raise MarksNotWritten(account_id)
        async with self._writing_late:
            marks = self._late.get(account_id, {})
            written = [(token, mark) for token, mark in marks.items() if mark.unwritten]
            orders = [LateOrder(m.symbol, m.token, m.answered, m.answered_ms) for _, m in written]
            drop = self._late_drops.get(account_id)
            tokens: list[int] = []

            def rule(fields: Fields) -> Change:
                if drop is not None:  # orders' marks outlive a connection: in either order
                    fields = dropped(fields, drop).fields
                change, tokens[:] = late_orders(fields, orders, self._orphan_ttl)
                return change

            apply = self._apply_now if now else self._apply
            try:
                await apply(account_id, rule)
            except Exception as exc:
                raise MarksNotWritten(account_id) from exc
            if drop is not None and self._late_drops.get(account_id) == drop:
                del self._late_drops[account_id]
            for (token, mark), order, store_token in zip(written, orders, tokens, strict=True):
                if order.answered:
                    del marks[token]
                else:  # its answer is still to come: under the store's token then
                    mark.token = store_token
            if not marks:
                self._late.pop(account_id, None)

    def _accounts_late(self) -> list[str]:
        return [*self._late_drops, *(a for a in self._late if a not in self._late_drops)]

    async def _retry_late(self) -> None:
        """Writes every late mark as soon as the store answers again."""
        while any(self._unwritten(account_id) for account_id in self._accounts_late()):
            await asyncio.sleep(_RETRY_SECONDS)
            for account_id in self._accounts_late():
                try:
                    await self._write_late(account_id, now=True)
                except MarksNotWritten:
                    break  # still away (or a caller writing them): the next round
