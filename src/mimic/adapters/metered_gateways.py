"""Every exchange call counted on its way: orders by outcome, errors by kind, and how long
after its signal an order filled. Wraps whichever gateways the platform uses."""

import re
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from mimic.application import work_context
from mimic.domain.accounts import AccountCheck, ExchangeAccount
from mimic.domain.errors import ExchangeError, OutcomeUnknown
from mimic.domain.market import MarketRules
from mimic.domain.orders import OrderFill, OrderRequest
from mimic.domain.performance import AccountFill
from mimic.domain.positions import Balance, Position, PositionSide
from mimic.ports.exchange import AccountSnapshot, ExchangeGateway, ExchangeGateways
from mimic.ports.metrics import Metrics
from mimic.ports.services import Clock

T = TypeVar("T")
tracer = trace.get_tracer("mimic.orders")
_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


def error_code(error: ExchangeError) -> str:
    """The error's kind as a label: InsufficientMargin -> insufficient_margin."""
    return _WORD_START.sub("_", type(error).__name__).lower()


class MeteredGateways(ExchangeGateways):
    def __init__(self, inner: ExchangeGateways, metrics: Metrics, clock: Clock) -> None:
        self._inner = inner
        self._metrics = metrics
        self._clock = clock
        # Whether each order gets a span: tracing is set up (or not, MIMIC_OTEL_ENDPOINT
        # unset) before the gateways are built, and asking again per order costs a look-up
        # in the environment each time.
        self._traced = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)

    def supports(self, exchange: str) -> bool:
        return self._inner.supports(exchange)

    async def for_account(self, account: ExchangeAccount) -> ExchangeGateway:
        try:
            gateway = await self._inner.for_account(account)
        except ExchangeError as exc:
            self._metrics.exchange_error(account.exchange, error_code(exc))
            raise
        return MeteredGateway(
            gateway, account.exchange, self._metrics, self._clock, traced=self._traced
        )


class MeteredGateway(ExchangeGateway):
    """Passes every member on: the wrapped venue's receive window and order lookups are the
    ones the order sender must see, not any default. What every follower of a fan-out
    calls (its snapshot, its order, the release of its TP/SL) goes through no closure and
    no coroutine more than the count needs."""

    def __init__(
        self,
        inner: ExchangeGateway,
        exchange: str,
        metrics: Metrics,
        clock: Clock,
        *,
        traced: bool,
    ) -> None:
        self._inner = inner
        self._exchange = exchange
        self._metrics = metrics
        self._clock = clock
        self._traced = traced

    def _count_error(self, error: ExchangeError) -> None:
        self._metrics.exchange_error(self._exchange, error_code(error))

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except ExchangeError as exc:
            self._count_error(exc)
            raise

    async def _order(self, sending: Awaitable[OrderFill]) -> OrderFill:
        """`sending`: the inner gateway's call, not awaited yet (no closure per order)."""
        if not self._traced:
            # A no-op span per order would still cost a fan-out more than its metrics.
            fill = await self._counted(sending, None)
        else:
            with tracer.start_as_current_span("order", kind=SpanKind.CLIENT) as span:
                span.set_attribute("mimic.exchange", self._exchange)
                span.set_attribute("mimic.account_id", work_context.account_id() or "")
                fill = await self._counted(sending, span)
        received_at = work_context.signal_received_at()
        if received_at is not None:
            seconds = (self._clock.now() - received_at).total_seconds()
            self._metrics.signal_filled(self._exchange, seconds)
        return fill

    async def _counted(self, sending: Awaitable[OrderFill], span: trace.Span | None) -> OrderFill:
        outcome = "error"  # unless the exchange answered
        try:
            fill = await sending
            outcome = "filled"
        except OutcomeUnknown as exc:
            outcome = "unknown"
            self._count_error(exc)
            raise
        except ExchangeError as exc:
            outcome = "error" if exc.retryable else "rejected"
            self._count_error(exc)
            raise
        finally:
            if span is not None:
                span.set_attribute("mimic.outcome", outcome)
            self._metrics.order_sent(self._exchange, outcome)
        return fill

    @property
    def receive_window(self) -> timedelta:
        return self._inner.receive_window

    @property
    def lookup_sees_every_order(self) -> bool:
        return self._inner.lookup_sees_every_order

    async def place_market_order(self, request: OrderRequest) -> OrderFill:
        return await self._order(self._inner.place_market_order(request))

    async def place_market_order_at_leverage(
        self, request: OrderRequest, leverage: int | None
    ) -> OrderFill:
        return await self._order(self._inner.place_market_order_at_leverage(request, leverage))

    async def market_rules(self, symbol: str) -> MarketRules:
        return await self._call(lambda: self._inner.market_rules(symbol))

    async def fetch_mark_price(self, symbol: str) -> Decimal:
        return await self._call(lambda: self._inner.fetch_mark_price(symbol))

    async def fetch_balance(self) -> Balance:
        return await self._call(self._inner.fetch_balance)

    async def fetch_positions(self) -> list[Position]:
        return await self._call(self._inner.fetch_positions)

    async def fetch_position(self, symbol: str) -> Position | None:
        return await self._call(lambda: self._inner.fetch_position(symbol))

    async def fetch_snapshot(self, symbol: str, *, with_balance: bool) -> AccountSnapshot:
        try:
            return await self._inner.fetch_snapshot(symbol, with_balance=with_balance)
        except ExchangeError as exc:
            self._count_error(exc)
            raise

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        await self._call(lambda: self._inner.set_leverage(symbol, leverage))

    async def find_order(self, symbol: str, client_order_id: str) -> OrderFill | None:
        return await self._call(lambda: self._inner.find_order(symbol, client_order_id))

    async def find_recent_order(self, symbol: str, client_order_id: str) -> OrderFill | None:
        return await self._call(lambda: self._inner.find_recent_order(symbol, client_order_id))

    async def check_account(self) -> AccountCheck:
        return await self._call(self._inner.check_account)

    async def place_protective_orders(
        self,
        symbol: str,
        position_side: PositionSide,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        client_order_id_prefix: str,
    ) -> list[str]:
        return await self._call(
            lambda: self._inner.place_protective_orders(
                symbol, position_side, stop_loss, take_profit, client_order_id_prefix
            )
        )

    async def cancel_protective_orders(self, symbol: str) -> None:
        try:
            await self._inner.cancel_protective_orders(symbol)
        except ExchangeError as exc:
            self._count_error(exc)
            raise

    async def fetch_fills(self, symbols: Collection[str], since: datetime) -> list[AccountFill]:
        return await self._call(lambda: self._inner.fetch_fills(symbols, since))
