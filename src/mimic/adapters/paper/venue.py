"""The paper exchange: a simulated Binance USD-M futures venue whose books live in the database.

Keeping state in the paper_* tables lets HTTP and any number of worker processes trade on
one venue, and a killed worker's orders are still there for its successor to look up.
Market orders fill at once, at the mark price, in one-way mode (one signed position per
symbol); fees, realized PnL and initial margin follow Binance's arithmetic.
"""

import logging
import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.paper.batching import Coalescer
from mimic.adapters.paper.books import PaperBooks, cancel_protective_orders, new_order_ids
from mimic.adapters.paper.faults import PaperFaults
from mimic.adapters.paper.ledger import (
    CURRENCY,
    Book,
    balance_of,
    check_leverage,
    check_order,
    equity_of,
    position_of,
)
from mimic.adapters.paper.protection import (
    ProtectiveOrder,
    ProtectiveStatus,
    check_prefix,
    check_trigger,
)
from mimic.adapters.paper.rows import (
    event_row,
    order_fill,
    order_row,
    protective_event_row,
    protective_order,
)
from mimic.adapters.paper.rules import paper_listings
from mimic.adapters.sqlalchemy.bulk import insert_rows
from mimic.adapters.sqlalchemy.tables import (
    paper_account_events,
    paper_accounts,
    paper_orders,
    paper_prices,
    paper_protective_orders,
)
from mimic.domain.errors import (
    DuplicateClientOrderId,
    ExchangeError,
    OrderRejected,
)
from mimic.domain.market import MarketRules
from mimic.domain.orders import OrderFill, OrderRequest
from mimic.domain.performance import AccountFill
from mimic.domain.positions import Balance, Position, PositionSide
from mimic.ports.exchange import AccountSnapshot, PaperMarket, SymbolCatalog
from mimic.ports.services import Clock

log = logging.getLogger(__name__)


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
        self.faults = faults if faults is not None else PaperFaults()
        self._listings = paper_listings()
        self._store = store = PaperBooks(session_factory, clock, taker_fee_rate, self._listings)
        self._read_books = Coalescer[str, Book](store.books_batch)
        self._place_orders = Coalescer[tuple[str, OrderRequest, int | None], OrderFill](
            store.orders_batch
        )
        self._set_leverages = Coalescer[tuple[str, str, int], None](store.leverage_batch)
        self._read_marks = Coalescer[str, Decimal](store.marks_batch)
        self._cancel_protection = Coalescer[tuple[str, str], None](store.cancel_protection_batch)
        self._read_fills = Coalescer[tuple[str, datetime], list[AccountFill]](store.fills_batch)

    # PaperMarket and SymbolCatalog

    async def set_mark_price(self, symbol: str, price: Decimal) -> None:
        listing = self._store.listing(symbol)
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
            return await self._store.marks(session)

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
        return self._store.listing(symbol).rules

    async def mark_price(self, symbol: str) -> Decimal:
        self._store.listing(symbol)
        return await self._read_marks(symbol)

    async def balance(self, account_id: str) -> Balance:
        return balance_of(await self._read_books(account_id))

    async def positions(self, account_id: str) -> list[Position]:
        book = await self._read_books(account_id)
        return [
            position_of(symbol, held, book.marks[symbol])
            for symbol, held in sorted(book.positions.items())
            if held.quantity != 0
        ]

    async def position(self, account_id: str, symbol: str) -> Position | None:
        self._store.listing(symbol)
        return next((p for p in await self.positions(account_id) if p.symbol == symbol), None)

    async def snapshot(self, account_id: str, symbol: str) -> AccountSnapshot:
        """Position, balance and mark price of one account, from one read of its book."""
        self._store.listing(symbol)
        book = await self._read_books(account_id)
        held = book.positions.get(symbol)
        mark = book.marks[symbol]
        position = None if held is None or held.quantity == 0 else position_of(symbol, held, mark)
        return AccountSnapshot(position, equity_of(book), mark)

    async def set_leverage(self, account_id: str, symbol: str, leverage: int) -> None:
        check_leverage(leverage, self._store.listing(symbol).rules)
        await self._set_leverages((account_id, symbol, leverage))

    async def place_market_order(
        self, account_id: str, request: OrderRequest, *, leverage: int | None = None
    ) -> OrderFill:
        """With `leverage`, the symbol's leverage is set in the same transaction as the fill
        (and not at all when the order is refused)."""
        rules = self._store.listing(request.symbol).rules
        if leverage is not None:
            check_leverage(leverage, rules)
        if self.faults.idle:  # no context manager per order: a few percent of a fan-out
            check_order(request, rules)
            return await self._place_orders((account_id, request, leverage))
        async with self.faults.around_order(account_id, request.symbol):
            check_order(request, rules)
            fill = await self._place_orders((account_id, request, leverage))
        return fill

    async def find_order(
        self, account_id: str, symbol: str, client_order_id: str
    ) -> OrderFill | None:
        self._store.listing(symbol)
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
        return None if row is None else order_fill(row)

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
        rules = self._store.listing(symbol).rules
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
            events = [protective_event_row(account_id, r["id"], "placed", now) for r in rows]
            async with self._sessions.begin() as session:
                await insert_rows(session, paper_protective_orders, rows)
                await insert_rows(session, paper_account_events, events)
        return [str(row["id"]) for row in rows]

    async def cancel_protective_orders(self, account_id: str, symbol: str) -> None:
        """Every entry and close of a fan-out asks this: batched like the orders."""
        self._store.listing(symbol)
        await self._cancel_protection((account_id, symbol))

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
            return [protective_order(row) for row in await session.execute(query)]

    async def fire_protective_orders(self, symbol: str) -> list[OrderFill]:
        """Fill every open order on `symbol` that the current mark price has crossed.

        Each fires in its own transaction under the account's book lock, re-checking that
        it is still open: of two processes moving the price, one fills it. An order whose
        fill fails stays open and fires on the next price move.
        """
        t = paper_protective_orders.c
        async with self._sessions() as session:
            mark = (await self._store.marks(session))[symbol]
            rows = await session.execute(
                select(paper_protective_orders)
                .where(t.symbol == symbol, t.status == ProtectiveStatus.OPEN.value)
                .order_by(t.created_at, t.id)
            )
            crossed = [o for o in map(protective_order, rows) if o.crossed_by(mark)]
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
            books = await self._store.books(session, {order.account_id}, lock=True)
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
                await cancel_protective_orders(session, [order.order_id], self._clock.now())
                return None
            request = OrderRequest(
                symbol=order.symbol,
                side=order.position_side.closing_side,
                quantity=abs(held.quantity),
                client_order_id=order.client_order_id,
                reduce_only=True,
            )
            known = {order.account_id: set(book.positions)}
            [order_id] = new_order_ids(1)
            fill, realized = self._store.fill(book, request, None, order_id)
            await session.execute(
                update(paper_protective_orders)
                .where(t.id == order.order_id)
                .values(status=ProtectiveStatus.TRIGGERED.value, updated_at=self._clock.now())
            )
            now = self._clock.now()
            row = order_row(order.account_id, fill, realized, now)
            event = event_row(order.account_id, fill, book.held(order.symbol).quantity, now)
            await self._store.write(
                session, books, known, {(order.account_id, order.symbol)}, [row], [event]
            )
        return fill

    async def fills(self, account_id: str, since: datetime) -> list[AccountFill]:
        """Every execution of the account since `since`: the venue's books keep them all."""
        return await self._read_fills((account_id, since))


def _insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ON CONFLICT on either backend."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
