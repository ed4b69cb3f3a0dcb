"""In-memory adapters of the ports in mimic.ports.exchange: a Binance-like venue per account."""

from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from mimic.adapters.exchange_base import ExchangeGatewayBase
from mimic.domain.accounts import (
    AccountCheck,
    ExchangeAccount,
)
from mimic.domain.errors import (
    BelowMinNotional,
    ExchangeError,
    ExchangeUnavailable,
    InvalidPrecision,
    OrderRejected,
    OutcomeUnknown,
    ReduceOnlyRejected,
    UnknownSymbol,
)
from mimic.domain.market import MarketRules
from mimic.domain.orders import (
    OrderFill,
    OrderRequest,
    OrderSide,
)
from mimic.domain.performance import AccountFill
from mimic.domain.positions import Balance, Position, PositionSide
from mimic.ports.exchange import ExchangeGateway, ExchangeGateways, PaperMarket, SymbolCatalog
from mimic.ports.services import Clock
from tests.fakes.market_rules import binance_rules
from tests.fakes.services import FixedClock


class FakeSymbolCatalog(SymbolCatalog):
    def __init__(self, symbols: Iterable[str] | None = None) -> None:
        self.symbols = set(binance_rules() if symbols is None else symbols)

    async def is_tradable(self, symbol: str) -> bool:
        return symbol in self.symbols


class FakePaperMarket(PaperMarket):
    def __init__(self) -> None:
        self.prices: dict[str, Decimal] = {}
        self.opened: list[str] = []

    async def set_mark_price(self, symbol: str, price: Decimal) -> None:
        self.prices[symbol] = price

    async def mark_prices(self) -> dict[str, Decimal]:
        return dict(self.prices)

    async def open_account(self, account_id: str) -> None:
        if account_id not in self.opened:
            self.opened.append(account_id)


@dataclass(frozen=True, slots=True)
class _PlaceFailure:
    error: Exception
    after_execution: bool
    # Executes late: at this lookup of its client id (1: the first), not before.
    executes_at_lookup: int | None = None


DEFAULT_FEE_RATE = Decimal("0.0004")


class FakeExchange(ExchangeGatewayBase):
    """One follower account on a Binance-like USD-M venue, fills at the mark price; what it
    does not define it does as every real venue's gateway does (ExchangeGatewayBase).

    Orders are checked against the real market rules (step, min/max quantity, min notional,
    reduce-only). Failures are programmed per call: `fail_next_place` refuses without
    executing; `execute_then_raise` executes, then raises (a timeout after the fact).
    """

    def __init__(
        self,
        *,
        equity: Decimal = Decimal(10000),
        mark_prices: Mapping[str, Decimal] | None = None,
        rules: Mapping[str, MarketRules] | None = None,
        currency: str = "USDT",
        fee_rate: Decimal = DEFAULT_FEE_RATE,
        clock: Clock | None = None,
    ) -> None:
        self.rules: dict[str, MarketRules] = dict(binance_rules() if rules is None else rules)
        self.wallet_balance = equity
        self.currency = currency
        self.fee_rate = fee_rate
        self.mark_prices: dict[str, Decimal] = dict(mark_prices or {})
        self.positions: dict[str, Position] = {}
        self.leverage: dict[str, int] = {}
        self.placed: list[OrderRequest] = []
        self.requests: list[OrderRequest] = []
        self.orders: dict[str, OrderFill] = {}
        self.calls: list[tuple[str, str]] = []
        self.read_error: ExchangeError | None = None
        self.find_error: ExchangeError | None = None
        self.protective: dict[str, list[tuple[str, Decimal]]] = {}
        self._place_failures: deque[_PlaceFailure] = deque()
        self._order_seq = 0
        self.clock = clock if clock is not None else FixedClock()
        self.fills: list[AccountFill] = []
        self.window = timedelta(seconds=10)  # the receive window it reports
        self.sees_every_order = False  # whether its lookup by client id is the whole story
        self.recent_error: ExchangeError | None = None
        self._late: dict[str, tuple[OrderRequest, int]] = {}

    @property
    def receive_window(self) -> timedelta:
        return self.window

    @property
    def lookup_sees_every_order(self) -> bool:
        return self.sees_every_order

    # programming the fake

    def set_equity(self, equity: Decimal) -> None:
        self.wallet_balance = equity

    def set_mark_price(self, symbol: str, price: Decimal) -> None:
        self.mark_prices[symbol] = price

    def set_position(
        self,
        symbol: str,
        side: PositionSide,
        quantity: Decimal,
        entry_price: Decimal | None = None,
        leverage: int = 20,
    ) -> None:
        entry = self.mark_prices[symbol] if entry_price is None else entry_price
        self.positions[symbol] = Position(symbol, side, quantity, entry, leverage)

    def fail_next_place(self, error: Exception) -> None:
        """The next order is refused with `error` and never executed."""
        self._place_failures.append(_PlaceFailure(error, after_execution=False))

    def execute_then_raise(self, error: Exception | None = None) -> None:
        """The next order executes, then the call fails (default: OutcomeUnknown)."""
        raised = error if error is not None else OutcomeUnknown("timeout after 10s")
        self._place_failures.append(_PlaceFailure(raised, after_execution=True))

    def execute_late(self, at_lookup: int, error: ExchangeError | None = None) -> None:
        """The next order's answer is lost (default: OutcomeUnknown) and it executes only
        when its client id is looked up for the `at_lookup`-th time: a late execution."""
        raised = error if error is not None else OutcomeUnknown("Timeout waiting for response")
        self._place_failures.append(
            _PlaceFailure(raised, after_execution=False, executes_at_lookup=at_lookup)
        )

    def order_calls(self) -> list[tuple[str, str]]:
        """("place" | "find", client order id) in the order they reached the exchange."""
        return [c for c in self.calls if c[0] in ("place", "find")]

    # the port

    def _read(self, what: str, symbol: str = "") -> None:
        self.calls.append((what, symbol))
        if self.read_error is not None:
            raise self.read_error

    def _rules(self, symbol: str) -> MarketRules:
        rules = self.rules.get(symbol)
        if rules is None:
            raise UnknownSymbol(f"Invalid symbol {symbol}.")
        return rules

    def _price(self, symbol: str) -> Decimal:
        self._rules(symbol)
        price = self.mark_prices.get(symbol)
        if price is None:
            raise ExchangeUnavailable(f"no mark price for {symbol}")
        return price

    async def market_rules(self, symbol: str) -> MarketRules:
        self._read("market_rules", symbol)
        return self._rules(symbol)

    async def fetch_mark_price(self, symbol: str) -> Decimal:
        self._read("fetch_mark_price", symbol)
        return self._price(symbol)

    def _unrealized(self) -> Decimal:
        total = Decimal(0)
        for symbol, position in self.positions.items():
            price = self.mark_prices.get(symbol)
            if price is not None:
                direction = 1 if position.side is PositionSide.LONG else -1
                total += (price - position.entry_price) * position.quantity * direction
        return total

    async def fetch_balance(self) -> Balance:
        self._read("fetch_balance")
        unrealized = self._unrealized()
        return Balance(
            currency=self.currency,
            wallet_balance=self.wallet_balance,
            unrealized_pnl=unrealized,
            available=self.wallet_balance + unrealized,
        )

    def _with_mark(self, position: Position) -> Position:
        return Position(
            position.symbol,
            position.side,
            position.quantity,
            position.entry_price,
            position.leverage,
            self.mark_prices.get(position.symbol),
        )

    async def fetch_positions(self) -> list[Position]:
        self._read("fetch_positions")
        return [self._with_mark(p) for p in self.positions.values()]

    async def fetch_position(self, symbol: str) -> Position | None:
        self._read("fetch_position", symbol)
        position = self.positions.get(symbol)
        return None if position is None else self._with_mark(position)

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        self._read("set_leverage", symbol)
        rules = self._rules(symbol)
        if not 1 <= leverage <= rules.max_leverage:
            raise OrderRejected(f"leverage {leverage} is not valid for {symbol}")
        self.leverage[symbol] = leverage

    async def place_market_order(self, request: OrderRequest) -> OrderFill:
        self.calls.append(("place", request.client_order_id))
        self.requests.append(request)
        failure = self._place_failures.popleft() if self._place_failures else None
        if failure is not None and failure.executes_at_lookup is not None:
            self._late[request.client_order_id] = (request, failure.executes_at_lookup)
        if failure is not None and not failure.after_execution:
            raise failure.error
        fill = self._execute(request)
        if failure is not None:
            raise failure.error
        return fill

    async def find_order(self, symbol: str, client_order_id: str) -> OrderFill | None:
        self.calls.append(("find", client_order_id))
        self._maybe_execute_late(client_order_id)
        if self.find_error is not None:
            raise self.find_error
        return self._known(symbol, client_order_id)

    async def find_recent_order(self, symbol: str, client_order_id: str) -> OrderFill | None:
        self.calls.append(("recent", client_order_id))
        if self.recent_error is not None:
            raise self.recent_error
        return self._known(symbol, client_order_id)

    def _known(self, symbol: str, client_order_id: str) -> OrderFill | None:
        fill = self.orders.get(client_order_id)
        return fill if fill is not None and fill.symbol == symbol else None

    def _maybe_execute_late(self, client_order_id: str) -> None:
        late = self._late.get(client_order_id)
        if late is None:
            return
        request, lookups_left = late
        if lookups_left > 1:
            self._late[client_order_id] = (request, lookups_left - 1)
            return
        del self._late[client_order_id]
        self._execute(request)

    async def check_account(self) -> AccountCheck:
        return AccountCheck(ok=True, detail="fake account", futures_enabled=True, can_trade=True)

    async def place_protective_orders(
        self,
        symbol: str,
        position_side: PositionSide,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        client_order_id_prefix: str,
    ) -> list[str]:
        """Recorded, never triggered: (client order id, trigger price) per symbol."""
        self.calls.append(("place_protective", symbol))
        self._rules(symbol)
        position = self.positions.get(symbol)
        if position is None or position.side is not position_side:
            raise OrderRejected(f"no open {position_side.value} {symbol} position to protect")
        placed = []
        for kind, price in (("sl", stop_loss), ("tp", take_profit)):
            if price is not None:
                client_id = client_order_id_prefix + kind
                self.protective.setdefault(symbol, []).append((client_id, price))
                placed.append(client_id)
        return placed

    async def cancel_protective_orders(self, symbol: str) -> None:
        self.calls.append(("cancel_protective", symbol))
        self.protective.pop(symbol, None)

    async def fetch_fills(self, symbols: Collection[str], since: datetime) -> list[AccountFill]:
        self._read("fetch_fills")
        return [f for f in self.fills if f.executed_at >= since]

    # the matching engine

    def _execute(self, request: OrderRequest) -> OrderFill:
        rules = self._rules(request.symbol)
        price = self._price(request.symbol)
        quantity = request.quantity
        if quantity <= 0 or quantity % rules.step_size != 0:
            raise InvalidPrecision("Precision is over the maximum defined for this asset.")
        if quantity < rules.min_qty or quantity > rules.max_qty:
            raise OrderRejected(f"quantity {quantity} outside [{rules.min_qty}, {rules.max_qty}]")
        position = self.positions.get(request.symbol)
        if request.reduce_only:
            if position is None or position.side.closing_side is not request.side:
                raise ReduceOnlyRejected("ReduceOnly Order is rejected.")
            quantity = min(quantity, position.quantity)
        elif quantity * price < rules.min_notional:
            raise BelowMinNotional(
                f"Order's notional must be no smaller than {rules.min_notional} "
                "(unless you choose reduce only)."
            )
        realized = self._apply(request.symbol, request.side, quantity, price)
        self._order_seq += 1
        fill = OrderFill(
            exchange_order_id=str(1000 + self._order_seq),
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            quantity=quantity,
            average_price=price,
            fee=quantity * price * self.fee_rate,
            reduce_only=request.reduce_only,
        )
        self.wallet_balance -= fill.fee
        self.fills.append(
            AccountFill(
                fill_id=fill.exchange_order_id,
                symbol=fill.symbol,
                side=fill.side,
                quantity=quantity,
                price=price,
                fee=fill.fee,
                realized_pnl=realized,
                executed_at=self.clock.now(),
            )
        )
        self.placed.append(request)
        self.orders[request.client_order_id] = fill
        return fill

    def _apply(self, symbol: str, side: OrderSide, quantity: Decimal, price: Decimal) -> Decimal:
        """Updates the position and wallet; returns the PnL realized."""
        realized = Decimal(0)
        position = self.positions.get(symbol)
        signed = quantity if side is OrderSide.BUY else -quantity
        if position is None:
            held, entry = Decimal(0), price
        else:
            held = position.quantity if position.side is PositionSide.LONG else -position.quantity
            entry = position.entry_price
        after = held + signed
        if held != 0 and (held > 0) != (signed > 0):
            closed = min(abs(signed), abs(held))
            direction = 1 if held > 0 else -1
            realized = (price - entry) * closed * direction
            self.wallet_balance += realized
            if after != 0 and (after > 0) != (held > 0):
                entry = price  # flipped through zero: the rest opens at this price
        elif held != 0:
            entry = (entry * abs(held) + price * quantity) / abs(after)
        if after == 0:
            self.positions.pop(symbol, None)
            return realized
        self.positions[symbol] = Position(
            symbol=symbol,
            side=PositionSide.LONG if after > 0 else PositionSide.SHORT,
            quantity=abs(after),
            entry_price=entry,
            leverage=self.leverage.get(symbol, 20),
        )
        return realized


class FakeGateways(ExchangeGateways):
    """Account id -> FakeExchange; an account without one cannot be reached."""

    def __init__(
        self,
        exchanges: Mapping[str, FakeExchange] | None = None,
        supported: Iterable[str] = ("paper",),
    ) -> None:
        self.exchanges: dict[str, FakeExchange] = dict(exchanges or {})
        self.supported = set(supported)

    def add(self, account_id: str, exchange: FakeExchange) -> FakeExchange:
        self.exchanges[account_id] = exchange
        return exchange

    def supports(self, exchange: str) -> bool:
        return exchange in self.supported

    async def for_account(self, account: ExchangeAccount) -> ExchangeGateway:
        exchange = self.exchanges.get(account.id)
        if exchange is None:
            raise ExchangeUnavailable(f"no exchange connected for account {account.id}")
        return exchange
