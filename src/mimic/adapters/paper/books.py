"""The paper venue's books in the database: read, filled and written in batched transactions.

`PaperVenue` holds one; every `Coalescer` of the venue lands in one of the `*_batch`
methods here, which read the books of all the batch's accounts, fill or change them in
memory (`ledger`), and write the changes back in the same transaction.
"""

import os
import time
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.paper.ledger import (
    Book,
    Held,
    check_margin,
    check_reduce_only,
    round_money,
)
from mimic.adapters.paper.protection import (
    ProtectiveStatus,
)
from mimic.adapters.paper.rows import account_fill, event_row, order_row, protective_event_row
from mimic.adapters.paper.rules import PaperListing
from mimic.adapters.sqlalchemy.bulk import insert_rows, one_of, update_rows
from mimic.adapters.sqlalchemy.tables import (
    paper_account_events,
    paper_accounts,
    paper_orders,
    paper_positions,
    paper_prices,
    paper_protective_orders,
)
from mimic.domain.errors import (
    AuthRejected,
    BelowMinNotional,
    ExchangeError,
    UnknownSymbol,
)
from mimic.domain.orders import OrderFill, OrderRequest, OrderSide
from mimic.domain.performance import AccountFill
from mimic.ports.services import Clock


class PaperBooks:
    """The SQL the venue's batches run, over the books in the paper_* tables."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        fee_rate: Decimal,
        listings: Mapping[str, PaperListing],
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._fee_rate = fee_rate
        self._listings = listings

    async def cancel_protection_batch(
        self, items: Sequence[tuple[str, str]]
    ) -> list[Exception | None]:
        async with self._sessions.begin() as session:
            await self._cancel_open_protection(session, items)
        return [None for _ in items]

    async def _cancel_open_protection(
        self, session: AsyncSession, positions: Collection[tuple[str, str]]
    ) -> None:
        """Cancels every open protective order of these (account, symbol) positions."""
        wanted = set(positions)
        if not wanted:
            return
        t = paper_protective_orders.c
        accounts = {a for a, _ in wanted}
        found = await session.execute(
            select(t.id, t.account_id, t.symbol).where(
                one_of(session.get_bind().dialect, t.account_id, accounts),
                t.status == ProtectiveStatus.OPEN.value,
            )
        )
        ids = [row.id for row in found if (row.account_id, row.symbol) in wanted]
        await cancel_protective_orders(session, ids, self._clock.now())

    def listing(self, symbol: str) -> PaperListing:
        listing = self._listings.get(symbol)
        if listing is None:
            raise UnknownSymbol(f"{symbol} is not listed on the paper exchange")
        return listing

    async def books_batch(self, account_ids: Sequence[str]) -> list[Book | Exception]:
        async with self._sessions() as session:
            books = await self.books(session, set(account_ids))
        return [books.get(a) or _not_open(a) for a in account_ids]

    async def fills_batch(
        self, keys: Sequence[tuple[str, datetime]]
    ) -> list[list[AccountFill] | Exception]:
        o = paper_orders.c
        query = (
            select(paper_orders)
            .where(
                o.account_id.in_(sorted({a for a, _ in keys})),
                o.created_at >= min(since for _, since in keys),
            )
            .order_by(o.created_at, o.id)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        by_account: dict[str, list[Row[Any]]] = {}
        for row in rows:
            by_account.setdefault(row.account_id, []).append(row)
        return [
            [account_fill(row) for row in by_account.get(a, []) if row.created_at >= since]
            for a, since in keys
        ]

    async def marks_batch(self, symbols: Sequence[str]) -> list[Decimal | Exception]:
        async with self._sessions() as session:
            marks = await self.marks(session)
        return [marks[symbol] for symbol in symbols]

    async def leverage_batch(self, items: Sequence[tuple[str, str, int]]) -> list[Exception | None]:
        async with self._sessions.begin() as session:
            wallets = await self._wallets(session, {a for a, _, _ in items}, lock=True)
            # Applied in order: the last setting of an (account, symbol) wins.
            leverages = {(a, s): lev for a, s, lev in items if a in wallets}
            p = paper_positions.c
            await insert_rows(
                session,
                paper_positions,
                [
                    {
                        "account_id": a,
                        "symbol": s,
                        "quantity": Decimal(0),
                        "entry_price": Decimal(0),
                        "leverage": lev,
                    }
                    for (a, s), lev in sorted(leverages.items())
                ],
                on_conflict=[p.account_id, p.symbol],
                update_on_conflict=["leverage"],
            )
        return [None if a in wallets else _not_open(a) for a, _, _ in items]

    async def orders_batch(
        self, items: Sequence[tuple[str, OrderRequest, int | None]]
    ) -> list[OrderFill | Exception]:
        """Every order of the batch in one transaction; a refused order changes nothing."""
        results: list[OrderFill | Exception] = []
        async with self._sessions.begin() as session:
            books = await self.books(session, {a for a, _, _ in items}, lock=True)
            known = {a: set(book.positions) for a, book in books.items()}
            touched: set[tuple[str, str]] = set()
            orders: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            order_ids = iter(new_order_ids(len(items)))
            for account_id, request, leverage in items:
                book = books.get(account_id)
                if book is None:
                    results.append(_not_open(account_id))
                    continue
                try:
                    fill, realized = self.fill(book, request, leverage, next(order_ids))
                except ExchangeError as exc:
                    results.append(exc)
                    continue
                touched.add((account_id, request.symbol))
                now = self._clock.now()
                orders.append(order_row(account_id, fill, realized, now))
                events.append(event_row(account_id, fill, book.held(request.symbol).quantity, now))
                results.append(fill)
            await self.write(session, books, known, touched, orders, events)
        return results

    def fill(
        self, book: Book, request: OrderRequest, leverage: int | None, order_id: str
    ) -> tuple[OrderFill, Decimal]:
        """Executes `request` against the in-memory `book` (mutated on success only) as the
        order `order_id` (from `new_order_ids`)."""
        symbol = request.symbol
        rules = self.listing(symbol).rules
        price, held = book.marks[symbol], book.held(symbol)
        if leverage is not None:
            held = Held(held.quantity, held.entry_price, leverage)
        quantity = request.quantity
        buying = request.side is OrderSide.BUY
        reduces = held.quantity != 0 and (held.quantity > 0) != buying
        if request.reduce_only:
            check_reduce_only(request, held, reduces)
            quantity = min(quantity, abs(held.quantity))
        elif quantity * price < rules.min_notional:
            raise BelowMinNotional(
                f"order notional {quantity * price} USDT is below the minimum "
                f"{rules.min_notional} USDT for {symbol}"
            )
        after, realized = held.fill(quantity if buying else -quantity, price)
        fee = round_money(quantity * price * self._fee_rate)
        # Like Binance, only an order that adds exposure needs margin; closing never does.
        if not (reduces and quantity <= abs(held.quantity)):
            check_margin(book, symbol, after, fee)
        book.wallet = book.wallet + realized - fee
        book.positions[symbol] = after
        fill = OrderFill(
            exchange_order_id=order_id,
            client_order_id=request.client_order_id,
            symbol=symbol,
            side=request.side,
            quantity=quantity,
            average_price=price,
            fee=fee,
            reduce_only=request.reduce_only,
        )
        return fill, realized

    async def write(
        self,
        session: AsyncSession,
        books: dict[str, Book],
        known: dict[str, set[str]],
        touched: set[tuple[str, str]],
        orders: list[dict[str, Any]],
        events: list[dict[str, Any]],
    ) -> None:
        """The books' changes, the executions and their account events: one transaction, so
        a stream sees an event exactly when the change it tells of is there."""
        if not orders:
            return
        await update_rows(
            session,
            paper_accounts,
            [
                {"account_id": account_id, "wallet_balance": books[account_id].wallet}
                for account_id in sorted({account_id for account_id, _ in touched})
            ],
            key=["account_id"],
        )
        updates: list[dict[str, Any]] = []
        inserts: list[dict[str, Any]] = []
        for account_id, symbol in sorted(touched):
            held = books[account_id].positions[symbol]
            row = {
                "account_id": account_id,
                "symbol": symbol,
                "quantity": held.quantity,
                "entry_price": held.entry_price,
                "leverage": held.leverage,
            }
            (updates if symbol in known[account_id] else inserts).append(row)
        await update_rows(session, paper_positions, updates, key=["account_id", "symbol"])
        await insert_rows(session, paper_positions, inserts)
        await insert_rows(session, paper_orders, orders)
        await insert_rows(session, paper_account_events, events)
        # Whatever protected a position that is now flat goes: the other leg after a TP/SL,
        # both after a close by a signal, a trailing stop or anything else.
        await self._cancel_open_protection(
            session, [(a, s) for a, s in touched if books[a].positions[s].quantity == 0]
        )

    async def books(
        self, session: AsyncSession, account_ids: set[str], *, lock: bool = False
    ) -> dict[str, Book]:
        """The books of the accounts that exist; `lock` serializes writers per account."""
        wallets = await self._wallets(session, account_ids, lock=lock)
        positions: dict[str, dict[str, Held]] = {account_id: {} for account_id in wallets}
        p = paper_positions.c
        rows = await session.execute(
            select(p.account_id, p.symbol, p.quantity, p.entry_price, p.leverage).where(
                one_of(session.get_bind().dialect, p.account_id, account_ids)
            )
        )
        for row in rows:
            positions[row.account_id][row.symbol] = Held(
                row.quantity, row.entry_price, row.leverage
            )
        marks = await self.marks(session)
        return {
            account_id: Book(wallet, positions[account_id], marks)
            for account_id, wallet in wallets.items()
        }

    async def _wallets(
        self, session: AsyncSession, account_ids: set[str], *, lock: bool
    ) -> dict[str, Decimal]:
        """Wallet balance of each open account; `lock` holds them until the commit."""
        ids = sorted(account_ids)  # one lock order for every batch: no deadlocks
        a = paper_accounts.c
        dialect = session.get_bind().dialect
        if lock and dialect.name == "sqlite":
            # SQLite has one writer at a time. Writing first takes the write lock now, waiting
            # out busy_timeout; reading first would need an upgrade later, which SQLite
            # refuses ("database is locked") when another writer committed in between.
            await session.execute(
                update(paper_accounts)
                .where(a.account_id.in_(ids))
                .values(wallet_balance=a.wallet_balance)
            )
        query = select(a.account_id, a.wallet_balance).where(one_of(dialect, a.account_id, ids))
        if lock:
            query = query.order_by(a.account_id).with_for_update()  # Postgres; SQLite omits it
        return {row.account_id: row.wallet_balance for row in await session.execute(query)}

    async def marks(self, session: AsyncSession) -> dict[str, Decimal]:
        marks = {symbol: listing.default_mark_price for symbol, listing in self._listings.items()}
        rows = await session.execute(select(paper_prices.c.symbol, paper_prices.c.price))
        marks.update({row.symbol: row.price for row in rows if row.symbol in marks})
        return marks


def new_order_ids(count: int) -> list[str]:
    """32 hex digits like uuid4().hex, led by the time: each batch's inserts land at the end of
    paper_orders' primary key, not on random pages of it (which, once the index outgrew the
    database's cache, cost every insert a page read and a write). The random halves of a
    batch's ids come from one read of the OS's random source: a read per id was a system call
    per order (as `domain.ids.new_ids`)."""
    random = os.urandom(8 * count).hex()
    return [f"{time.time_ns():016x}{random[16 * i : 16 * i + 16]}" for i in range(count)]


def _not_open(account_id: str) -> AuthRejected:
    # What a real exchange says to keys of an account that does not exist.
    return AuthRejected(f"paper account {account_id} is not open")


async def cancel_protective_orders(
    session: AsyncSession, ids: Collection[str], now: datetime
) -> None:
    """Cancels these protective orders that are still open (one may have fired meanwhile);
    each one cancelled is an event of its account's stream."""
    if not ids:
        return
    t = paper_protective_orders.c
    cancelled = await session.execute(
        update(paper_protective_orders)
        .where(
            one_of(session.get_bind().dialect, t.id, ids),
            t.status == ProtectiveStatus.OPEN.value,
        )
        .values(status=ProtectiveStatus.CANCELLED.value, updated_at=now)
        .returning(t.id, t.account_id)
    )
    events = [protective_event_row(r.account_id, r.id, "cancelled", now) for r in cancelled]
    await insert_rows(session, paper_account_events, events)
