"""The paper exchange: a simulated Binance USD-M futures venue whose books live in the database.

Keeping state in the paper_* tables lets HTTP and any number of worker processes trade on
one venue, and a killed worker's orders are still there for its successor to look up.
Market orders fill at once, at the mark price, in one-way mode (one signed position per
symbol); fees, realized PnL and initial margin follow Binance's arithmetic.
"""

import logging
import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Row, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.paper.batching import Coalescer
from mimic.adapters.paper.faults import PaperFaults
from mimic.adapters.paper.protection import (
    ProtectiveOrder,
    ProtectiveStatus,
    check_prefix,
    check_trigger,
)
from mimic.adapters.paper.rules import PaperListing, paper_listings
from mimic.adapters.sqlalchemy.bulk import insert_rows, one_of, update_rows
from mimic.adapters.sqlalchemy.tables import (
    paper_account_events,
    paper_accounts,
    paper_orders,
    paper_positions,
    paper_prices,
    paper_protective_orders,
)
from mimic.domain.decimals import plain_decimal
from mimic.domain.errors import (
    AuthRejected,
    BelowMinNotional,
    DuplicateClientOrderId,
    ExchangeError,
    InsufficientMargin,
    InvalidPrecision,
    OrderRejected,
    ReduceOnlyRejected,
    UnknownSymbol,
)
from mimic.domain.market import MarketRules
from mimic.domain.orders import OrderFill, OrderRequest, OrderSide
from mimic.domain.performance import AccountFill
from mimic.domain.positions import Balance, Position, PositionSide
from mimic.ports.exchange import AccountSnapshot, PaperMarket, SymbolCatalog
from mimic.ports.services import Clock

log = logging.getLogger(__name__)

CURRENCY = "USDT"
DEFAULT_LEVERAGE = 20  # what Binance gives a symbol the account never configured
_CLIENT_ORDER_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")  # Binance's newClientOrderId
# Money and average prices are kept to 8 decimals, as Binance reports them; without a fixed
# scale a weighted average would differ between SQLite (text) and Postgres NUMERIC(38, 18).
_SCALE = Decimal("0.00000001")


def _round(value: Decimal) -> Decimal:
    return plain_decimal(value.quantize(_SCALE, rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class _Held:
    """One row of paper_positions; a flat row (quantity 0) only remembers the leverage."""

    quantity: Decimal  # signed: short < 0
    entry_price: Decimal
    leverage: int

    @property
    def initial_margin(self) -> Decimal:
        return abs(self.quantity) * self.entry_price / self.leverage

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return (mark - self.entry_price) * self.quantity

    def fill(self, signed_quantity: Decimal, price: Decimal) -> tuple["_Held", Decimal]:
        """The position after a fill of `signed_quantity` at `price`, and the PnL realized."""
        before, after = self.quantity, self.quantity + signed_quantity
        if before == 0 or (before > 0) == (signed_quantity > 0):
            entry = (abs(before) * self.entry_price + abs(signed_quantity) * price) / abs(after)
            return _Held(after, _round(entry), self.leverage), Decimal(0)
        closed = min(abs(signed_quantity), abs(before))
        direction = 1 if before > 0 else -1
        realized = _round((price - self.entry_price) * closed * direction)
        if after == 0:
            entry = Decimal(0)
        elif (after > 0) == (before > 0):
            entry = self.entry_price  # reducing keeps the entry price
        else:
            entry = price  # flipped through zero: the remainder opens at the fill price
        return _Held(after, entry, self.leverage), realized


@dataclass(slots=True)
class _Book:
    """One account as read in one transaction; a batch of orders updates it as it fills."""

    wallet: Decimal
    positions: dict[str, _Held]
    marks: dict[str, Decimal]

    @property
    def unrealized_pnl(self) -> Decimal:
        return sum(
            (held.unrealized_pnl(self.marks[s]) for s, held in self.positions.items()),
            Decimal(0),
        )

    def initial_margin(self, *, excluding: str | None = None) -> Decimal:
        return sum(
            (held.initial_margin for s, held in self.positions.items() if s != excluding),
            Decimal(0),
        )

    def held(self, symbol: str) -> _Held:
        return self.positions.get(symbol, _Held(Decimal(0), Decimal(0), DEFAULT_LEVERAGE))


class PaperVenue(PaperMarket, SymbolCatalog):
    """The whole simulated exchange; `PaperGateway` shows one account of it."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        starting_balance: Decimal = Decimal(10000),
        taker_fee_rate: Decimal = Decimal("0.0004"),
        faults: PaperFaults | None = None,
    ) -> None:
        self._sessions = session_factory
        self._clock = clock
        self._starting_balance = starting_balance
        self._fee_rate = taker_fee_rate
        self.faults = faults if faults is not None else PaperFaults()
        self._listings = paper_listings()
        self._read_books = Coalescer[str, _Book](self._books_batch)
        self._place_orders = Coalescer[tuple[str, OrderRequest, int | None], OrderFill](
            self._orders_batch
        )
        self._set_leverages = Coalescer[tuple[str, str, int], None](self._leverage_batch)
        self._read_marks = Coalescer[str, Decimal](self._marks_batch)
        self._cancel_protection = Coalescer[tuple[str, str], None](self._cancel_protection_batch)
        self._read_fills = Coalescer[tuple[str, datetime], list[AccountFill]](self._fills_batch)

    # PaperMarket and SymbolCatalog

    async def set_mark_price(self, symbol: str, price: Decimal) -> None:
        listing = self._listing(symbol)
        if not (price.is_finite() and listing.accepts_price(price)):
            raise OrderRejected(
                f"price {price} of {symbol} is outside the allowed range "
                f"{listing.min_price} to {listing.max_price}"
            )
        async with self._sessions.begin() as session:
            statement = _insert(session, paper_prices).values(
                symbol=symbol, price=price, updated_at=self._clock.now()
            )
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["symbol"],
                    set_={
                        "price": statement.excluded.price,
                        "updated_at": statement.excluded.updated_at,
                    },
                )
            )
        await self.fire_protective_orders(symbol)

    async def mark_prices(self) -> dict[str, Decimal]:
        async with self._sessions() as session:
            return await self._marks(session)

    async def open_account(self, account_id: str) -> None:
        async with self._sessions.begin() as session:
            statement = _insert(session, paper_accounts).values(
                account_id=account_id, currency=CURRENCY, wallet_balance=self._starting_balance
            )
            await session.execute(statement.on_conflict_do_nothing(index_elements=["account_id"]))

    async def is_tradable(self, symbol: str) -> bool:
        return symbol in self._listings

    # One account's exchange operations, as PaperGateway exposes them

    async def market_rules(self, symbol: str) -> MarketRules:
        return self._listing(symbol).rules

    async def mark_price(self, symbol: str) -> Decimal:
        self._listing(symbol)
        return await self._read_marks(symbol)

    async def balance(self, account_id: str) -> Balance:
        return _balance(await self._read_books(account_id))

    async def positions(self, account_id: str) -> list[Position]:
        book = await self._read_books(account_id)
        return [
            _position(symbol, held, book.marks[symbol])
            for symbol, held in sorted(book.positions.items())
            if held.quantity != 0
        ]

    async def position(self, account_id: str, symbol: str) -> Position | None:
        self._listing(symbol)
        return next((p for p in await self.positions(account_id) if p.symbol == symbol), None)

    async def snapshot(self, account_id: str, symbol: str) -> AccountSnapshot:
        """Position, balance and mark price of one account, from one read of its book."""
        self._listing(symbol)
        book = await self._read_books(account_id)
        held = book.positions.get(symbol)
        mark = book.marks[symbol]
        position = None if held is None or held.quantity == 0 else _position(symbol, held, mark)
        return AccountSnapshot(position, _balance(book), mark)

    async def set_leverage(self, account_id: str, symbol: str, leverage: int) -> None:
        _check_leverage(leverage, self._listing(symbol).rules)
        await self._set_leverages((account_id, symbol, leverage))

    async def place_market_order(
        self, account_id: str, request: OrderRequest, *, leverage: int | None = None
    ) -> OrderFill:
        """With `leverage`, the symbol's leverage is set in the same transaction as the fill
        (and not at all when the order is refused)."""
        rules = self._listing(request.symbol).rules
        if leverage is not None:
            _check_leverage(leverage, rules)
        async with self.faults.around_order(account_id, request.symbol):
            _check_order(request, rules)
            fill = await self._place_orders((account_id, request, leverage))
        return fill

    async def find_order(
        self, account_id: str, symbol: str, client_order_id: str
    ) -> OrderFill | None:
        self._listing(symbol)
        o = paper_orders.c
        query = (
            select(paper_orders)
            .where(
                o.account_id == account_id,
                o.client_order_id == client_order_id,
                o.symbol == symbol,
            )
            .order_by(o.created_at.desc())
            .limit(1)
        )
        async with self._sessions() as session:
            row = (await session.execute(query)).one_or_none()
        return None if row is None else _order_fill(row)

    # Native stop-loss / take-profit orders (closePosition semantics: each closes the whole
    # position when the mark price reaches its trigger)

    async def place_protective_orders(
        self,
        account_id: str,
        symbol: str,
        position_side: PositionSide,
        triggers: dict[str, Decimal | None],
        prefix: str,
    ) -> list[str]:
        """`triggers` maps "sl" / "tp" to a trigger price (None: not wanted)."""
        check_prefix(prefix)
        rules = self._listing(symbol).rules
        position = await self.position(account_id, symbol)
        if position is None or position.side is not position_side:
            raise OrderRejected(f"no open {position_side.value} {symbol} position to protect")
        mark = await self.mark_price(symbol)
        wanted = {k: rules.round_price(v) for k, v in triggers.items() if v is not None}
        for kind, price in wanted.items():
            check_trigger(kind, price, position_side, mark, symbol)
        open_ids = {o.client_order_id for o in await self.protective_orders(account_id, symbol)}
        rows: list[dict[str, Any]] = []
        now = self._clock.now()
        for kind, price in wanted.items():
            client_id = prefix + kind
            if client_id in open_ids:
                raise DuplicateClientOrderId(f"client order id {client_id} is already open")
            rows.append(
                {
                    "id": secrets.token_hex(16),
                    "account_id": account_id,
                    "symbol": symbol,
                    "client_order_id": client_id,
                    "kind": kind,
                    "position_side": position_side.value,
                    "trigger_price": price,
                    "status": ProtectiveStatus.OPEN.value,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if rows:
            async with self._sessions.begin() as session:
                await insert_rows(session, paper_protective_orders, rows)
        return [str(row["id"]) for row in rows]

    async def cancel_protective_orders(self, account_id: str, symbol: str) -> None:
        """Every entry and close of a fan-out asks this: batched like the orders."""
        self._listing(symbol)
        await self._cancel_protection((account_id, symbol))

    async def _cancel_protection_batch(
        self, items: Sequence[tuple[str, str]]
    ) -> list[Exception | None]:
        async with self._sessions.begin() as session:
            await self._cancel_open_protection(session, items)
        return [None for _ in items]

    async def _cancel_open_protection(
        self, session: AsyncSession, positions: Collection[tuple[str, str]]
    ) -> None:
        """Cancels every open protective order of these (account, symbol) positions."""
        await update_rows(
            session,
            paper_protective_orders,
            [{"account_id": a, "symbol": s} for a, s in sorted(set(positions))],
            key=["account_id", "symbol"],
            also={"status": ProtectiveStatus.CANCELLED.value, "updated_at": self._clock.now()},
            only=[paper_protective_orders.c.status == ProtectiveStatus.OPEN.value],
        )

    async def protective_orders(
        self, account_id: str, symbol: str, *, only_open: bool = True
    ) -> list[ProtectiveOrder]:
        t = paper_protective_orders.c
        query = (
            select(paper_protective_orders)
            .where(t.account_id == account_id, t.symbol == symbol)
            .order_by(t.created_at, t.client_order_id)
        )
        if only_open:
            query = query.where(t.status == ProtectiveStatus.OPEN.value)
        async with self._sessions() as session:
            return [_protective(row) for row in await session.execute(query)]

    async def fire_protective_orders(self, symbol: str) -> list[OrderFill]:
        """Fill every open order on `symbol` that the current mark price has crossed.

        Each fires in its own transaction under the account's book lock, re-checking that
        it is still open: of two processes moving the price, one fills it. An order whose
        fill fails stays open and fires on the next price move.
        """
        t = paper_protective_orders.c
        async with self._sessions() as session:
            mark = (await self._marks(session))[symbol]
            rows = await session.execute(
                select(paper_protective_orders)
                .where(t.symbol == symbol, t.status == ProtectiveStatus.OPEN.value)
                .order_by(t.created_at, t.id)
            )
            crossed = [o for o in map(_protective, rows) if o.crossed_by(mark)]
        fills = []
        for order in crossed:
            try:
                fill = await self._fire(order)
            except ExchangeError as exc:
                log.warning("paper %s %s not filled: %s", order.kind, order.client_order_id, exc)
                continue
            if fill is not None:
                fills.append(fill)
        return fills

    async def _fire(self, order: ProtectiveOrder) -> OrderFill | None:
        t = paper_protective_orders.c
        async with self._sessions.begin() as session:
            books = await self._books(session, {order.account_id}, lock=True)
            still_open = (
                await session.execute(
                    select(t.id).where(
                        t.id == order.order_id, t.status == ProtectiveStatus.OPEN.value
                    )
                )
            ).first()
            book = books.get(order.account_id)
            if still_open is None or book is None:
                return None
            held = book.held(order.symbol)
            side_now = PositionSide.LONG if held.quantity > 0 else PositionSide.SHORT
            if held.quantity == 0 or side_now is not order.position_side:
                # The position it protected is gone: like Binance, the order expires.
                await session.execute(
                    update(paper_protective_orders)
                    .where(t.id == order.order_id)
                    .values(status=ProtectiveStatus.CANCELLED.value, updated_at=self._clock.now())
                )
                return None
            request = OrderRequest(
                symbol=order.symbol,
                side=order.position_side.closing_side,
                quantity=abs(held.quantity),
                client_order_id=order.client_order_id,
                reduce_only=True,
            )
            known = {order.account_id: set(book.positions)}
            fill, realized = self._fill(book, request, None)
            await session.execute(
                update(paper_protective_orders)
                .where(t.id == order.order_id)
                .values(status=ProtectiveStatus.TRIGGERED.value, updated_at=self._clock.now())
            )
            now = self._clock.now()
            row = _order_row(order.account_id, fill, realized, now)
            event = _event_row(order.account_id, fill, book.held(order.symbol).quantity, now)
            await self._write(
                session, books, known, {(order.account_id, order.symbol)}, [row], [event]
            )
        return fill

    async def fills(self, account_id: str, since: datetime) -> list[AccountFill]:
        """Every execution of the account since `since`: the venue's books keep them all."""
        return await self._read_fills((account_id, since))

    # Internals

    def _listing(self, symbol: str) -> PaperListing:
        listing = self._listings.get(symbol)
        if listing is None:
            raise UnknownSymbol(f"{symbol} is not listed on the paper exchange")
        return listing

    async def _books_batch(self, account_ids: Sequence[str]) -> list[_Book | Exception]:
        async with self._sessions() as session:
            books = await self._books(session, set(account_ids))
        return [books.get(a) or _not_open(a) for a in account_ids]

    async def _fills_batch(
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

    async def _marks_batch(self, symbols: Sequence[str]) -> list[Decimal | Exception]:
        async with self._sessions() as session:
            marks = await self._marks(session)
        return [marks[symbol] for symbol in symbols]

    async def _leverage_batch(
        self, items: Sequence[tuple[str, str, int]]
    ) -> list[Exception | None]:
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

    async def _orders_batch(
        self, items: Sequence[tuple[str, OrderRequest, int | None]]
    ) -> list[OrderFill | Exception]:
        """Every order of the batch in one transaction; a refused order changes nothing."""
        results: list[OrderFill | Exception] = []
        async with self._sessions.begin() as session:
            books = await self._books(session, {a for a, _, _ in items}, lock=True)
            known = {a: set(book.positions) for a, book in books.items()}
            touched: set[tuple[str, str]] = set()
            orders: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            for account_id, request, leverage in items:
                book = books.get(account_id)
                if book is None:
                    results.append(_not_open(account_id))
                    continue
                try:
                    fill, realized = self._fill(book, request, leverage)
                except ExchangeError as exc:
                    results.append(exc)
                    continue
                touched.add((account_id, request.symbol))
                now = self._clock.now()
                orders.append(_order_row(account_id, fill, realized, now))
                events.append(_event_row(account_id, fill, book.held(request.symbol).quantity, now))
                results.append(fill)
            await self._write(session, books, known, touched, orders, events)
        return results

    def _fill(
        self, book: _Book, request: OrderRequest, leverage: int | None
    ) -> tuple[OrderFill, Decimal]:
        """Executes `request` against the in-memory `book` (mutated on success only)."""
        symbol = request.symbol
        rules = self._listing(symbol).rules
        price, held = book.marks[symbol], book.held(symbol)
        if leverage is not None:
            held = _Held(held.quantity, held.entry_price, leverage)
        quantity = request.quantity
        buying = request.side is OrderSide.BUY
        reduces = held.quantity != 0 and (held.quantity > 0) != buying
        if request.reduce_only:
            _check_reduce_only(request, held, reduces)
            quantity = min(quantity, abs(held.quantity))
        elif quantity * price < rules.min_notional:
            raise BelowMinNotional(
                f"order notional {quantity * price} USDT is below the minimum "
                f"{rules.min_notional} USDT for {symbol}"
            )
        after, realized = held.fill(quantity if buying else -quantity, price)
        fee = _round(quantity * price * self._fee_rate)
        # Like Binance, only an order that adds exposure needs margin; closing never does.
        if not (reduces and quantity <= abs(held.quantity)):
            _check_margin(book, symbol, after, fee)
        book.wallet = book.wallet + realized - fee
        book.positions[symbol] = after
        fill = OrderFill(
            exchange_order_id=secrets.token_hex(16),  # as uuid4().hex, a fifth of the time
            client_order_id=request.client_order_id,
            symbol=symbol,
            side=request.side,
            quantity=quantity,
            average_price=price,
            fee=fee,
            reduce_only=request.reduce_only,
        )
        return fill, realized

    async def _write(
        self,
        session: AsyncSession,
        books: dict[str, _Book],
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

    async def _books(
        self, session: AsyncSession, account_ids: set[str], *, lock: bool = False
    ) -> dict[str, _Book]:
        """The books of the accounts that exist; `lock` serializes writers per account."""
        wallets = await self._wallets(session, account_ids, lock=lock)
        positions: dict[str, dict[str, _Held]] = {account_id: {} for account_id in wallets}
        p = paper_positions.c
        rows = await session.execute(
            select(p.account_id, p.symbol, p.quantity, p.entry_price, p.leverage).where(
                one_of(session.get_bind().dialect, p.account_id, account_ids)
            )
        )
        for row in rows:
            positions[row.account_id][row.symbol] = _Held(
                row.quantity, row.entry_price, row.leverage
            )
        marks = await self._marks(session)
        return {
            account_id: _Book(wallet, positions[account_id], marks)
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

    async def _marks(self, session: AsyncSession) -> dict[str, Decimal]:
        marks = {symbol: listing.default_mark_price for symbol, listing in self._listings.items()}
        rows = await session.execute(select(paper_prices.c.symbol, paper_prices.c.price))
        marks.update({row.symbol: row.price for row in rows if row.symbol in marks})
        return marks


def _check_leverage(leverage: int, rules: MarketRules) -> None:
    if not 1 <= leverage <= rules.max_leverage:
        raise OrderRejected(
            f"leverage {leverage} is not valid for {rules.symbol}: choose 1 to {rules.max_leverage}"
        )


def _check_order(request: OrderRequest, rules: MarketRules) -> None:
    quantity, symbol = request.quantity, request.symbol
    if not _CLIENT_ORDER_ID.match(request.client_order_id):
        raise OrderRejected(
            f"client order id {request.client_order_id!r} must be 1 to 36 characters "
            "of A-Z a-z 0-9 . : / _ -"
        )
    if not quantity.is_finite() or quantity <= 0:
        raise OrderRejected(f"quantity must be positive, got {quantity}")
    if quantity % rules.step_size != 0:
        raise InvalidPrecision(
            f"quantity {quantity} is not a multiple of step size {rules.step_size}"
        )
    if quantity < rules.min_qty:
        raise OrderRejected(f"quantity {quantity} is below the minimum {rules.min_qty} {symbol}")
    if quantity > rules.max_qty:
        raise OrderRejected(
            f"quantity {quantity} is above the maximum {rules.max_qty} {symbol} for a market order"
        )


def _check_reduce_only(request: OrderRequest, held: _Held, reduces: bool) -> None:
    if held.quantity == 0:
        raise ReduceOnlyRejected(
            f"reduce-only order rejected: there is no open {request.symbol} position"
        )
    if not reduces:
        side = "long" if held.quantity > 0 else "short"
        raise ReduceOnlyRejected(
            f"reduce-only order rejected: a {request.side.value} would increase "
            f"the {side} {request.symbol} position"
        )


def _check_margin(book: _Book, symbol: str, after: _Held, fee: Decimal) -> None:
    """The new position's initial margin and the fee must fit in what the rest leaves free."""
    need = after.initial_margin + fee
    available = book.wallet + book.unrealized_pnl - book.initial_margin(excluding=symbol)
    if need > available:
        raise InsufficientMargin(
            f"margin is insufficient: need {need:.2f} USDT, available {available:.2f} USDT"
        )


def _balance(book: _Book) -> Balance:
    unrealized = _round(book.unrealized_pnl)
    return Balance(
        currency=CURRENCY,
        wallet_balance=book.wallet,
        unrealized_pnl=unrealized,
        available=_round(book.wallet + unrealized - book.initial_margin()),
    )


def _position(symbol: str, held: _Held, mark: Decimal) -> Position:
    return Position(
        symbol=symbol,
        side=PositionSide.LONG if held.quantity > 0 else PositionSide.SHORT,
        quantity=abs(held.quantity),
        entry_price=held.entry_price,
        leverage=held.leverage,
        mark_price=mark,
    )


def _order_fill(row: Row[Any]) -> OrderFill:
    return OrderFill(
        exchange_order_id=row.id,
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side=OrderSide(row.side),
        quantity=row.quantity,
        average_price=row.price,
        fee=row.fee,
        reduce_only=row.reduce_only,
    )


def _protective(row: Row[Any]) -> ProtectiveOrder:
    return ProtectiveOrder(
        order_id=row.id,
        account_id=row.account_id,
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        position_side=PositionSide(row.position_side),
        kind=row.kind,
        trigger_price=row.trigger_price,
        status=ProtectiveStatus(row.status),
    )


def account_fill(row: Row[Any]) -> AccountFill:
    """One row of paper_orders as the account's fill."""
    return AccountFill(
        fill_id=row.id,
        symbol=row.symbol,
        side=OrderSide(row.side),
        quantity=row.quantity,
        price=row.price,
        fee=row.fee,
        realized_pnl=row.realized_pnl,
        executed_at=row.created_at,
        order_id=row.id,  # one execution per paper order
        client_order_id=row.client_order_id,
    )


def _insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ON CONFLICT on either backend."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _not_open(account_id: str) -> AuthRejected:
    # What a real exchange says to keys of an account that does not exist.
    return AuthRejected(f"paper account {account_id} is not open")


def _order_row(
    account_id: str, fill: OrderFill, realized: Decimal, now: datetime
) -> dict[str, Any]:
    return {
        "id": fill.exchange_order_id,
        "account_id": account_id,
        "client_order_id": fill.client_order_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "quantity": fill.quantity,
        "price": fill.average_price,
        "fee": fill.fee,
        "realized_pnl": realized,
        "reduce_only": fill.reduce_only,
        "created_at": now,
    }


def _event_row(
    account_id: str, fill: OrderFill, position_after: Decimal, now: datetime
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "order_id": fill.exchange_order_id,
        "position_after": position_after,
        "created_at": now,
    }
