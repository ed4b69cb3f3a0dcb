"""Binance USD-M user data events, decoded straight from the socket's text into Mimic's
account events.

msgspec decodes each message into the few fields Mimic reads (a tagged union on `e`,
unknown fields skipped, lenient about types and nulls: a liquidation's `sp`, `AP`, `cr`
come null). What is not an event Mimic reads (`MARGIN_CALL`, `ACCOUNT_CONFIG_UPDATE`, ...)
is passed over.

- `ACCOUNT_UPDATE` becomes balance and position events. Binance sends it just before the
  fill's `ORDER_TRADE_UPDATE`, with the same time: the fill then carries the position it
  left.
- `ORDER_TRADE_UPDATE` with an execution (`x` TRADE, or CALCULATED for a liquidation)
  becomes a fill. A liquidation is known by `x=CALCULATED`, order type `LIQUIDATION` or the
  client ids Binance gives its own closes.
- `ALGO_UPDATE` tells which order a TP/SL placed when it triggered (`caid` -> `ai`): that
  order's client id is Binance's, the TP/SL's is Mimic's.
- `TRADE_LITE` (the same fill, told early) is dropped; `listenKeyExpired` ends the socket's
  life (`ListenKeyExpired`).
"""

import logging
from datetime import UTC, datetime
from decimal import Decimal

import msgspec

from mimic.adapters.ccxt.values import to_decimal, to_decimal_or
from mimic.domain.account_events import (
    AccountEvent,
    BalanceEvent,
    FillCause,
    FillEvent,
    PositionEvent,
)
from mimic.domain.orders import OrderSide
from mimic.domain.performance import AccountFill
from mimic.ports.streamed_accounts import PositionReport

log = logging.getLogger(__name__)

# Client ids Binance gives the orders it places itself: liquidation, auto-deleveraging,
# delivery / delisting settlement.
EXCHANGE_CLOSES = ("autoclose-", "adl_autoclose", "settlement_autoclose")
_DONE = ("FILLED", "CANCELED", "EXPIRED")
_Id = int | str | None  # Binance's ids are numbers, its algo ids strings


class _Balance(msgspec.Struct):
    asset: str | None = msgspec.field(default=None, name="a")
    wallet: str | None = msgspec.field(default=None, name="wb")


class _Position(msgspec.Struct):
    symbol: str | None = msgspec.field(default=None, name="s")
    amount: str | None = msgspec.field(default=None, name="pa")
    entry: str | None = msgspec.field(default=None, name="ep")
    side: str | None = msgspec.field(default=None, name="ps")


class _Changes(msgspec.Struct):
    balances: list[_Balance] | None = msgspec.field(default=None, name="B")
    positions: list[_Position] | None = msgspec.field(default=None, name="P")


class _AccountUpdate(msgspec.Struct, tag_field="e", tag="ACCOUNT_UPDATE"):
    event_ms: int = msgspec.field(name="E")
    transaction_ms: int | None = msgspec.field(default=None, name="T")
    changes: _Changes | None = msgspec.field(default=None, name="a")


class _Order(msgspec.Struct):
    symbol: str = msgspec.field(name="s")
    side: str = msgspec.field(name="S")
    order_id: int | str = msgspec.field(name="i")
    execution: str | None = msgspec.field(default=None, name="x")
    status: str | None = msgspec.field(default=None, name="X")
    client_id: str | None = msgspec.field(default=None, name="c")
    kind: str | None = msgspec.field(default=None, name="o")
    original_kind: str | None = msgspec.field(default=None, name="ot")
    last_quantity: str | None = msgspec.field(default=None, name="l")
    last_price: str | None = msgspec.field(default=None, name="L")
    cumulative: str | None = msgspec.field(default=None, name="z")
    average_price: str | None = msgspec.field(default=None, name="ap")
    commission: str | None = msgspec.field(default=None, name="n")
    realized_pnl: str | None = msgspec.field(default=None, name="rp")
    trade_ms: int | None = msgspec.field(default=None, name="T")
    trade_id: _Id = msgspec.field(default=None, name="t")
    position_side: str | None = msgspec.field(default=None, name="ps")


class _OrderTradeUpdate(msgspec.Struct, tag_field="e", tag="ORDER_TRADE_UPDATE"):
    event_ms: int = msgspec.field(name="E")
    order: _Order = msgspec.field(name="o")


class _Algo(msgspec.Struct):
    client_algo_id: str | None = msgspec.field(default=None, name="caid")
    order_id: _Id = msgspec.field(default=None, name="ai")


class _AlgoUpdate(msgspec.Struct, tag_field="e", tag="ALGO_UPDATE"):
    algo: _Algo | None = msgspec.field(default=None, name="o")


class _TradeLite(msgspec.Struct, tag_field="e", tag="TRADE_LITE"):
    pass


class _ListenKeyExpired(msgspec.Struct, tag_field="e", tag="listenKeyExpired"):
    pass


class _Leverage(msgspec.Struct):
    symbol: str | None = msgspec.field(default=None, name="s")
    leverage: int | None = msgspec.field(default=None, name="l")


class _ConfigUpdate(msgspec.Struct, tag_field="e", tag="ACCOUNT_CONFIG_UPDATE"):
    leverage: _Leverage | None = msgspec.field(default=None, name="ac")


class _Kind(msgspec.Struct):
    kind: str | None = msgspec.field(default=None, name="e")


_Message = (
    _AccountUpdate
    | _OrderTradeUpdate
    | _AlgoUpdate
    | _TradeLite
    | _ListenKeyExpired
    | _ConfigUpdate
)
_decoder = msgspec.json.Decoder(_Message, strict=False)
_kind_decoder = msgspec.json.Decoder(_Kind, strict=False)
_READ = (
    "ACCOUNT_UPDATE",
    "ORDER_TRADE_UPDATE",
    "ALGO_UPDATE",
    "TRADE_LITE",
    "listenKeyExpired",
    "ACCOUNT_CONFIG_UPDATE",
)


class ListenKeyExpired(Exception):
    """Binance says nothing more on this socket: a new listen key is needed."""


class UserDataReader:
    """One stream's decoding: what earlier messages tell about later ones."""

    def __init__(self) -> None:
        self._spawned: dict[str, str] = {}  # order id -> client id of the TP/SL that placed it
        # (symbol, position side) -> (event time in ms, signed amount) of the latest
        # ACCOUNT_UPDATE: Binance sends it just before the fill's ORDER_TRADE_UPDATE.
        self._positions: dict[tuple[str, str], tuple[int, Decimal]] = {}
        # What the streamed account state is told (ports.streamed_accounts), until taken.
        self._reports: list[PositionReport] = []
        self._leverage: dict[str, int] = {}

    def take_state(self) -> tuple[list[PositionReport], dict[str, int]]:
        """The positions (every side reported, with Binance's transaction time) and
        leverage changes read since the last call, in the order Binance sent them."""
        taken = self._reports, self._leverage
        self._reports, self._leverage = [], {}
        return taken

    def events(self, text: str | bytes) -> list[AccountEvent]:
        """The events of one message; raises `ListenKeyExpired` when the key is dead."""
        try:
            message = _decoder.decode(text)
        except msgspec.DecodeError:
            kind = _kind(text)
            if kind in _READ:  # one Mimic reads, but not as Binance documents it
                log.warning("user data event %s not read", kind, exc_info=True)
            return []
        match message:
            case _OrderTradeUpdate():
                fill = self._fill(message)
                return [] if fill is None else [fill]
            case _AccountUpdate():
                return self._account_update(message)
            case _AlgoUpdate(algo=_Algo(client_algo_id=client_id, order_id=order_id)):
                if client_id and order_id:
                    self._spawned[str(order_id)] = client_id
                return []
            case _ListenKeyExpired():
                raise ListenKeyExpired("binanceusdm: listen key expired")
            case _ConfigUpdate(leverage=_Leverage(symbol=symbol, leverage=leverage)):
                if symbol and leverage:
                    self._leverage[symbol] = leverage
        return []

    def _account_update(self, message: _AccountUpdate) -> list[AccountEvent]:
        """Balances and positions that changed (a fill, funding, a transfer, a liquidation)."""
        at_ms = message.transaction_ms or message.event_ms
        at = datetime.fromtimestamp(at_ms / 1000, UTC)
        changes = message.changes or _Changes()
        events: list[AccountEvent] = []
        for balance in changes.balances or []:
            wallet = to_decimal_or(balance.wallet, None)
            if balance.asset and wallet is not None:
                events.append(BalanceEvent(balance.asset, wallet, at))
        for position in changes.positions or []:
            amount = to_decimal_or(position.amount, None)
            if not position.symbol or amount is None:
                continue
            self._positions[(position.symbol, position.side or "BOTH")] = (at_ms, amount)
            entry = to_decimal_or(position.entry, Decimal(0))
            self._reports.append(
                PositionReport(position.symbol, position.side or "BOTH", amount, entry, at_ms)
            )
            events.append(PositionEvent(position.symbol, amount, entry, at))
        return events

    def _fill(self, message: _OrderTradeUpdate) -> FillEvent | None:
        order = message.order
        quantity = to_decimal_or(order.last_quantity, Decimal(0))
        if order.execution not in ("TRADE", "CALCULATED") or quantity == 0:
            return None
        order_id = str(order.order_id)
        client_id = self._spawned.get(order_id) or order.client_id or None
        liquidation = (
            order.execution == "CALCULATED"
            or "LIQUIDATION" in (order.kind, order.original_kind)
            or (client_id or "").startswith(EXCHANGE_CLOSES)
        )
        executed_ms = order.trade_ms or message.event_ms
        fill = AccountFill(
            fill_id=str(order.trade_id) if order.trade_id else f"{order_id}:{order.cumulative}",
            symbol=order.symbol,
            side=OrderSide(order.side.lower()),
            quantity=quantity,
            price=to_decimal(order.last_price),
            fee=abs(to_decimal_or(order.commission, Decimal(0))),
            realized_pnl=to_decimal_or(order.realized_pnl, Decimal(0)),
            executed_at=datetime.fromtimestamp(executed_ms / 1000, UTC),
            order_id=order_id,
            client_order_id=client_id,
        )
        # The position this fill left, if the ACCOUNT_UPDATE of the same moment told it (one
        # from before would be the position before the fill: then it is read when needed).
        position = self._positions.get((fill.symbol, order.position_side or "BOTH"))
        return FillEvent(
            fill=fill,
            order_id=order_id,
            client_order_id=client_id,
            order_quantity=to_decimal_or(order.cumulative, quantity),
            order_average_price=to_decimal_or(order.average_price, Decimal(0)) or fill.price,
            order_done=order.status in _DONE,
            cause=FillCause.LIQUIDATION if liquidation else FillCause.ORDER,
            position_after=position[1] if position and position[0] == executed_ms else None,
        )


def _kind(text: str | bytes) -> str | None:
    try:
        return _kind_decoder.decode(text).kind
    except msgspec.DecodeError:
        return None
