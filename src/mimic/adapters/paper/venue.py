"""The paper exchange: a simulated Binance USD-M futures venue whose books live in the database.

Keeping state in the paper_* tables lets HTTP and any number of worker processes trade on
one venue, and a killed worker's orders are still there for its successor to look up.
Market orders fill at once, at the mark price, in one-way mode (one signed position per
symbol); fees, realized PnL and initial margin follow Binance's arithmetic.
"""

import re
import uuid
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Row, Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.paper.faults import PaperFaults
from mimic.adapters.paper.rules import PaperListing, paper_listings
from mimic.adapters.sqlalchemy.tables import (
    paper_accounts,
    paper_orders,
    paper_positions,
    paper_prices,
    plain_decimal,
)
from mimic.domain.errors import (
    AuthRejected,
    BelowMinNotional,
    InsufficientMargin,
    InvalidPrecision,
    OrderRejected,
    ReduceOnlyRejected,
    UnknownSymbol,
)
from mimic.domain.market import MarketRules
from mimic.domain.orders import OrderFill, OrderRequest, OrderSide
from mimic.domain.positions import Balance, Position, PositionSide
from mimic.ports.exchange import PaperMarket, SymbolCatalog
from mimic.ports.services import Clock

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
            return replace(self, quantity=after, entry_price=_round(entry)), Decimal(0)
        closed = min(abs(signed_quantity), abs(before))
        direction = 1 if before > 0 else -1
        realized = _round((price - self.entry_price) * closed * direction)
        if after == 0:
            entry = Decimal(0)
        elif (after > 0) == (before > 0):
            entry = self.entry_price  # reducing keeps the entry price
        else:
            entry = price  # flipped through zero: the remainder opens at the fill price
        return replace(self, quantity=after, entry_price=entry), realized


@dataclass(frozen=True, slots=True)
class _Book:
    """One account as read in one transaction."""

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
        listing = self._listing(symbol)
        async with self._sessions() as session:
            price = await session.scalar(
                select(paper_prices.c.price).where(paper_prices.c.symbol == symbol)
            )
        return listing.default_mark_price if price is None else price

    async def balance(self, account_id: str) -> Balance:
        async with self._sessions() as session:
            book = await self._book(session, account_id)
        unrealized = _round(book.unrealized_pnl)
        return Balance(
            currency=CURRENCY,
            wallet_balance=book.wallet,
            unrealized_pnl=unrealized,
            available=_round(book.wallet + unrealized - book.initial_margin()),
        )

    async def positions(self, account_id: str) -> list[Position]:
        async with self._sessions() as session:
            book = await self._book(session, account_id)
        return [
            _position(symbol, held, book.marks[symbol])
            for symbol, held in sorted(book.positions.items())
            if held.quantity != 0
        ]

    async def position(self, account_id: str, symbol: str) -> Position | None:
        self._listing(symbol)
        return next((p for p in await self.positions(account_id) if p.symbol == symbol), None)

    async def set_leverage(self, account_id: str, symbol: str, leverage: int) -> None:
        rules = self._listing(symbol).rules
        if not 1 <= leverage <= rules.max_leverage:
            raise OrderRejected(
                f"leverage {leverage} is not valid for {symbol}: choose 1 to {rules.max_leverage}"
            )
        async with self._sessions.begin() as session:
            await self._lock_account(session, account_id)
            key = (paper_positions.c.account_id == account_id) & (
                paper_positions.c.symbol == symbol
            )
            if await session.scalar(select(paper_positions.c.leverage).where(key)) is None:
                await session.execute(
                    insert(paper_positions).values(
                        account_id=account_id,
                        symbol=symbol,
                        quantity=Decimal(0),
                        entry_price=Decimal(0),
                        leverage=leverage,
                    )
                )
            else:
                await session.execute(update(paper_positions).where(key).values(leverage=leverage))

    async def place_market_order(self, account_id: str, request: OrderRequest) -> OrderFill:
        rules = self._listing(request.symbol).rules
        async with self.faults.around_order(account_id, request.symbol):
            _check_order(request, rules)
            fill = await self._execute(account_id, request, rules)
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

    # Internals

    def _listing(self, symbol: str) -> PaperListing:
        listing = self._listings.get(symbol)
        if listing is None:
            raise UnknownSymbol(f"{symbol} is not listed on the paper exchange")
        return listing

    async def _execute(
        self, account_id: str, request: OrderRequest, rules: MarketRules
    ) -> OrderFill:
        symbol = request.symbol
        async with self._sessions.begin() as session:
            book = await self._book(session, account_id, lock=True)
            price, held = book.marks[symbol], book.held(symbol)
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
            await self._write(
                session, account_id, book, symbol, after, book.wallet + realized - fee
            )
            fill = OrderFill(
                exchange_order_id=uuid.uuid4().hex,
                client_order_id=request.client_order_id,
                symbol=symbol,
                side=request.side,
                quantity=quantity,
                average_price=price,
                fee=fee,
                reduce_only=request.reduce_only,
            )
            await session.execute(
                insert(paper_orders).values(
                    id=fill.exchange_order_id,
                    account_id=account_id,
                    client_order_id=fill.client_order_id,
                    symbol=symbol,
                    side=fill.side.value,
                    quantity=quantity,
                    price=price,
                    fee=fee,
                    realized_pnl=realized,
                    reduce_only=fill.reduce_only,
                    created_at=self._clock.now(),
                )
            )
        return fill

    async def _write(
        self,
        session: AsyncSession,
        account_id: str,
        book: _Book,
        symbol: str,
        after: _Held,
        wallet: Decimal,
    ) -> None:
        await session.execute(
            update(paper_accounts)
            .where(paper_accounts.c.account_id == account_id)
            .values(wallet_balance=wallet)
        )
        values = {"quantity": after.quantity, "entry_price": after.entry_price}
        if symbol in book.positions:
            await session.execute(
                update(paper_positions)
                .where(
                    paper_positions.c.account_id == account_id,
                    paper_positions.c.symbol == symbol,
                )
                .values(values)
            )
        else:
            await session.execute(
                insert(paper_positions).values(
                    account_id=account_id, symbol=symbol, leverage=after.leverage, **values
                )
            )

    async def _book(self, session: AsyncSession, account_id: str, *, lock: bool = False) -> _Book:
        wallet = await (self._lock_account if lock else self._wallet)(session, account_id)
        p = paper_positions.c
        rows = await session.execute(
            select(p.symbol, p.quantity, p.entry_price, p.leverage).where(
                p.account_id == account_id
            )
        )
        positions = {row.symbol: _Held(row.quantity, row.entry_price, row.leverage) for row in rows}
        return _Book(wallet, positions, await self._marks(session))

    async def _lock_account(self, session: AsyncSession, account_id: str) -> Decimal:
        """Serialize every write of one account; other accounts go on in parallel (Postgres)."""
        if session.get_bind().dialect.name == "sqlite":
            # SQLite has one writer at a time. Writing first takes the write lock now, waiting
            # out busy_timeout; reading first would need an upgrade later, which SQLite
            # refuses ("database is locked") when another writer committed in between.
            await session.execute(
                update(paper_accounts)
                .where(paper_accounts.c.account_id == account_id)
                .values(wallet_balance=paper_accounts.c.wallet_balance)
            )
        return await self._wallet(session, account_id, for_update=True)

    async def _wallet(
        self, session: AsyncSession, account_id: str, *, for_update: bool = False
    ) -> Decimal:
        query = select(paper_accounts.c.wallet_balance).where(
            paper_accounts.c.account_id == account_id
        )
        if for_update:
            query = query.with_for_update()  # Postgres only; SQLite omits it
        wallet: Decimal | None = await session.scalar(query)
        if wallet is None:
            # What a real exchange says to keys of an account that does not exist.
            raise AuthRejected(f"paper account {account_id} is not open")
        return wallet

    async def _marks(self, session: AsyncSession) -> dict[str, Decimal]:
        marks = {symbol: listing.default_mark_price for symbol, listing in self._listings.items()}
        rows = await session.execute(select(paper_prices.c.symbol, paper_prices.c.price))
        marks.update({row.symbol: row.price for row in rows if row.symbol in marks})
        return marks


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


def _insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ON CONFLICT on either backend."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
