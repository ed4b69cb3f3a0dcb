"""Binance USD-M: the exchange Mimic is built for, on ccxt's binanceusdm."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

import ccxt.async_support as ccxt

from mimic.adapters.ccxt.binance_check import check_account
from mimic.adapters.ccxt.clients import PooledClient
from mimic.adapters.ccxt.errors import Call, exchange_message
from mimic.adapters.ccxt.gateway import SETTLEMENT_CURRENCY, CcxtGateway
from mimic.adapters.ccxt.streamed_positions import (
    Unknown,
    best_effort,
    position_reports,
    row_leverage,
    streamed_equity,
    streamed_position,
    wallet_reports,
)
from mimic.adapters.ccxt.values import FEE_SCALE, is_true, taker_rate, to_decimal, to_decimal_or
from mimic.domain.accounts import AccountCheck
from mimic.domain.errors import OrderRejected, OutcomeUnknown
from mimic.domain.market import MarketRules
from mimic.domain.orders import OrderFill, OrderRequest, OrderSide
from mimic.domain.positions import Balance, Position, PositionSide
from mimic.domain.protection import PROTECTIVE_PREFIX
from mimic.ports.exchange import AccountSnapshot
from mimic.ports.streamed_accounts import StreamedAccounts

log = logging.getLogger(__name__)

T = TypeVar("T")
# Refusals that mean "this order's form does not fit the account's position mode".
_POSITION_MODE_REFUSALS = (-4061, -1106)


class BinanceUsdmGateway(CcxtGateway):
    """Binance USD-M: the exchange Mimic is built for.

    - Position mode (hedge or one-way) is learned from positionRisk, which the planning of
      every signal reads anyway, or from Binance refusing an order's form; GET
      /fapi/v1/positionSide/dual costs 30 weight of the IP's 2,400 a minute, so it is
      only asked after such a refusal, and by check_account.
    - Hedge mode: an entry goes to positionSide LONG (buy) or SHORT (sell); a close sells
      LONG or buys SHORT, without reduceOnly (Binance rejects it there: -1106). One-way:
      positionSide stays BOTH and a close is reduceOnly.
    - TP/SL are STOP_MARKET / TAKE_PROFIT_MARKET with closePosition on the algo endpoint.
    """

    @property
    def receive_window(self) -> timedelta:
        """The recvWindow ccxt signs every request with: Binance accepts a request until it
        has passed, and after a -1007 the order may still execute."""
        window = self._clients.public.options.get("recvWindow")
        if isinstance(window, int | float) and window > 0:
            return timedelta(milliseconds=window)
        return super().receive_window

    async def _read_mark_price(self, public: Any, market: dict[str, Any]) -> Decimal:
        premium = await public.fapiPublicGetPremiumIndex({"symbol": market["id"]})
        return to_decimal(premium["markPrice"])

    def _parse_rules(self, symbol: str, market: dict[str, Any]) -> MarketRules:
        # ccxt keeps LOT_SIZE as the amount precision and MARKET_LOT_SIZE as the market
        # limits; market orders answer to the latter, as the paper exchange does.
        filters = {f["filterType"]: f for f in market["info"].get("filters", [])}
        lot = filters.get("MARKET_LOT_SIZE") or filters.get("LOT_SIZE")
        price = filters.get("PRICE_FILTER")
        notional = filters.get("MIN_NOTIONAL")
        if lot is None or price is None or notional is None:
            return super()._parse_rules(symbol, market)
        return MarketRules(
            symbol=symbol,
            step_size=to_decimal(lot["stepSize"]),
            tick_size=to_decimal(price["tickSize"]),
            min_qty=to_decimal(lot["minQty"]),
            max_qty=to_decimal(lot["maxQty"]),
            min_notional=to_decimal(notional["notional"]),
        )

    async def _read_balance(self, pooled: PooledClient) -> Balance:
        account = await self._read_refreshing(
            pooled.client.fapiPrivateV3GetAccount,
            lambda streamed, account, begun: streamed.wallets_refreshed(
                self.account.id, wallet_reports(account), begun
            ),
        )
        asset = next(
            (a for a in account.get("assets", []) if a.get("asset") == SETTLEMENT_CURRENCY), None
        )
        if asset is None:
            return Balance(SETTLEMENT_CURRENCY, Decimal(0), Decimal(0), Decimal(0))
        return Balance(
            currency=SETTLEMENT_CURRENCY,
            wallet_balance=to_decimal(asset["walletBalance"]),
            unrealized_pnl=to_decimal(asset["unrealizedProfit"]),
            available=to_decimal(asset["availableBalance"]),
        )

    async def _read_positions(
        self, pooled: PooledClient, market: dict[str, Any] | None
    ) -> list[Position]:
        # v2, not v3: only v2 reports leverage and margin type, which spares a POST
        # /leverage (and /marginType) per order when they are already what we want.
        if market is None:
            rows = await pooled.client.fapiPrivateV2GetPositionRisk({})
        else:
            symbol_id = str(market["id"])
            rows = await self._read_refreshing(
                lambda: pooled.client.fapiPrivateV2GetPositionRisk({"symbol": symbol_id}),
                lambda streamed, rows, begun: streamed.refreshed(
                    self.account.id,
                    symbol_id,
                    position_reports(rows),
                    row_leverage(rows).get(symbol_id),
                    begun,
                ),
            )
        state = pooled.state
        positions = []
        for row in rows:
            symbol = str(row["symbol"])
            side = str(row.get("positionSide", "BOTH"))
            state.hedge_mode = side != "BOTH"
            if row.get("leverage") is not None:
                state.leverage[symbol] = int(row["leverage"])
            if row.get("marginType") in ("cross", "isolated"):
                state.margin_mode[symbol] = str(row["marginType"])
            amount = to_decimal(row["positionAmt"])
            if amount == 0:
                continue
            positions.append(
                Position(
                    symbol=symbol,
                    side=PositionSide.LONG if amount > 0 else PositionSide.SHORT,
                    quantity=abs(amount),
                    entry_price=to_decimal(row["entryPrice"]),
                    leverage=int(row.get("leverage") or 1),
                    mark_price=to_decimal_or(row.get("markPrice"), Decimal(0)) or None,
                )
            )
        return positions

    # --- the streamed account state (ports.streamed_accounts) ------------------------

    async def _read_refreshing(
        self,
        read: Callable[[], Awaitable[Any]],
        refresh: Callable[[StreamedAccounts, Any, int], Awaitable[None]],
    ) -> Any:
        """A REST read whose answer refreshes the streamed state: it began after the token
        was taken, so the orders answered before that no longer hold the state back."""
        streamed = self._streamed
        if streamed is None:
            return await read()
        token = await best_effort("REST token", lambda: streamed.rest_token(self.account.id))
        answer = await read()
        if token is not None:
            begun = token
            await best_effort("REST refresh", lambda: refresh(streamed, answer, begun))
        return answer

    async def fetch_snapshot(self, symbol: str, *, with_balance: bool) -> AccountSnapshot:
        """The position, and the equity of an account holding none, from what the account's
        live stream last reported, when that is known to be current; otherwise by REST."""
        streamed = self._streamed
        if streamed is None:
            return await super().fetch_snapshot(symbol, with_balance=with_balance)
        market = await self._market(symbol)
        symbol_id = str(market["id"])
        state = await best_effort("read", lambda: streamed.read(self.account.id, symbol_id))
        try:
            position = streamed_position(state)
        except Unknown:
            return await super().fetch_snapshot(symbol, with_balance=with_balance)
        leverage = None if state is None else state.leverage

        async def trust(pooled: PooledClient) -> None:
            # The client's settings cache was refreshed by every positionRisk read; the
            # stream reports leverage changes but not margin type changes.
            if leverage is None:
                pooled.state.leverage.pop(symbol_id, None)
            else:
                pooled.state.leverage[symbol_id] = leverage
            pooled.state.margin_mode.pop(symbol_id, None)

        await self._call(Call.READ, trust)
        if not with_balance:
            return AccountSnapshot(position)
        equity = streamed_equity(state)
        if equity is None:
            equity = (await self.fetch_balance()).equity
        mark = await self.fetch_mark_price(symbol)
        if position is not None:
            position = replace(position, mark_price=mark)
        return AccountSnapshot(position, equity, mark)

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        await super().set_leverage(symbol, leverage)
        streamed = self._streamed
        if streamed is not None:
            # Known from now on unless the stream already says (it reports every change).
            symbol_id = str((await self._market(symbol))["id"])
            await best_effort(
                "leverage",
                lambda: streamed.refreshed(self.account.id, symbol_id, (), leverage, 0),
            )

    async def place_market_order(self, request: OrderRequest) -> OrderFill:
        """Marks the symbol's streamed state pending before the order leaves: planning reads
        it again only once the stream reports the symbol at or after the order's answer,
        or by REST (an order whose outcome is unknown: only by REST)."""
        streamed = self._streamed
        if streamed is None:
            return await super().place_market_order(request)
        symbol_id = str((await self._market(request.symbol))["id"])
        client_id = request.client_order_id
        # Neither mark fails (the store keeps one it cannot write yet): the order leaves.
        token = await streamed.order_sending(self.account.id, symbol_id)
        answered = None
        try:
            fill = await super().place_market_order(request)
            answered = self._answered_ms.get(client_id)
            return fill
        finally:
            self._answered_ms.pop(client_id, None)
            await streamed.order_answered(self.account.id, symbol_id, token, answered)

    async def _detected_hedge_mode(self, pooled: PooledClient) -> bool:
        """Ask Binance: GET /fapi/v1/positionSide/dual, 30 weight of the IP's minute."""
        answer = await pooled.client.fapiPrivateGetPositionSideDual()
        pooled.state.hedge_mode = is_true(answer.get("dualSidePosition"))
        return pooled.state.hedge_mode

    async def _in_position_mode(
        self, pooled: PooledClient, send: Callable[[bool], Awaitable[T]]
    ) -> T:
        """Send in the position mode we know, or one-way (the default) when we know none.

        Binance refuses an order whose form does not fit the account's mode (-4061, or
        -1106 for reduceOnly in hedge mode) and executes nothing; only then is the mode
        asked for, and the order sent once more in that mode. That spares every one-way
        account the 30-weight question.
        """
        assumed = pooled.state.hedge_mode is True
        try:
            return await send(assumed)
        except ccxt.ExchangeError as exc:
            if exchange_message(exc)[0] not in _POSITION_MODE_REFUSALS:
                raise
            if await self._detected_hedge_mode(pooled) == assumed:
                raise
            log.info("%s: the account is in %s mode, order sent again in it", self,
                     "hedge" if not assumed else "one-way")  # fmt: skip
            return await send(not assumed)

    async def _place(
        self, pooled: PooledClient, market: dict[str, Any], request: OrderRequest
    ) -> OrderFill:
        async def send(hedge: bool) -> OrderFill:
            return await self._send_order(pooled, market, request, hedge)

        return await self._in_position_mode(pooled, send)

    async def _send_order(
        self, pooled: PooledClient, market: dict[str, Any], request: OrderRequest, hedge: bool
    ) -> OrderFill:
        """ccxt's create_order, minus what a USD-M market order does not need: ccxt still
        applies the precision, signs and translates errors; its create_order_request
        (~150 lines of option lookups for every order type of every Binance market) and
        its parse_order (a unified order, ~40 safe_* calls, of which the fill reads
        nothing) are skipped."""
        client = pooled.client
        answer: dict[str, Any] = await client.fapiPrivatePostOrder(
            market_order_request(client, market, request, hedge)
        )
        if answer.get("updateTime") is not None:
            self._answered_ms[request.client_order_id] = int(answer["updateTime"])
        status = str(answer.get("status", ""))
        if status in ("NEW", "PARTIALLY_FILLED"):
            raise OutcomeUnknown(
                f"binanceusdm: market order {request.client_order_id} accepted but not "
                f"filled yet ({status})"
            )
        fill = self._fill(market, request.symbol, request.client_order_id, answer)
        if fill is None:
            raise OrderRejected(
                f"binanceusdm: market order {request.client_order_id} ended {status} without a fill"
            )
        return fill

    async def _fetch_order_by_client_id(
        self, pooled: PooledClient, market: dict[str, Any], client_order_id: str
    ) -> dict[str, Any]:
        """A TP/SL lives on the algo endpoint under its client id; once triggered, what
        executed is the order it placed (`actualOrderId`), which is what is returned."""
        symbol = market["symbol"]
        if not client_order_id.startswith(PROTECTIVE_PREFIX):
            order: dict[str, Any] = await pooled.client.fetch_order(
                None, symbol, {"origClientOrderId": client_order_id}
            )
            return order
        algo = await pooled.client.fetch_order(
            None, symbol, {"clientAlgoId": client_order_id, "trigger": True}
        )
        placed = (algo.get("info") or {}).get("actualOrderId")
        if not placed:
            raise ccxt.OrderNotFound(f"binanceusdm: {client_order_id} has not triggered")
        order = await pooled.client.fetch_order(str(placed), symbol)
        return order

    def _found(
        self,
        pooled: PooledClient,
        market: dict[str, Any],
        symbol: str,
        client_order_id: str,
        order: dict[str, Any],
    ) -> OrderFill | None:
        return self._fill(market, symbol, client_order_id, order.get("info") or {})

    def _fill(
        self, market: dict[str, Any], symbol: str, client_order_id: str, info: dict[str, Any]
    ) -> OrderFill | None:
        """A Binance order as Binance reports it (ccxt's `info`): its fill, None if it
        certainly did not execute, OutcomeUnknown while it is still working."""
        status = str(info.get("status", ""))
        executed = to_decimal_or(info.get("executedQty"), Decimal(0))
        if status in ("NEW", "PARTIALLY_FILLED"):
            raise OutcomeUnknown(
                f"binanceusdm: order {client_order_id} is still working ({status})"
            )
        if executed == 0:
            return None  # CANCELED / EXPIRED / REJECTED with nothing done: proven not executed
        side = OrderSide(str(info["side"]).lower())
        position_side = str(info.get("positionSide", "BOTH"))
        if position_side == "BOTH":
            reduce_only = is_true(info.get("reduceOnly"))
        else:  # hedge mode: selling LONG or buying SHORT closes
            reduce_only = (side is OrderSide.SELL) == (position_side == "LONG")
        quote = to_decimal_or(info.get("cumQuote"), Decimal(0))
        average = to_decimal_or(info.get("avgPrice"), Decimal(0)) or quote / executed
        # A futures order answer carries no commission (it lives in userTrades, 5 weight a
        # call): this is the market's taker rate applied to the executed notional.
        fee = (quote or executed * average) * taker_rate(market)
        return OrderFill(
            exchange_order_id=str(info["orderId"]),
            client_order_id=str(info.get("clientOrderId") or client_order_id),
            symbol=symbol,
            side=side,
            quantity=executed,
            average_price=average,
            fee=fee.quantize(FEE_SCALE, rounding=ROUND_HALF_UP),
            reduce_only=reduce_only,
        )

    async def _place_protective(
        self,
        pooled: PooledClient,
        market: dict[str, Any],
        position_side: PositionSide,
        kind: str,
        trigger: Decimal,
        client_id: str,
    ) -> str:
        async def send(hedge: bool) -> str:
            params: dict[str, Any] = {
                "clientOrderId": client_id,  # ccxt sends it as clientAlgoId
                "closePosition": True,  # the whole position, whatever its size by then
                "workingType": "MARK_PRICE",  # as sizing does: a last-price wick is no trigger
                "stopLossPrice" if kind == "sl" else "takeProfitPrice": format(trigger, "f"),
            }
            if hedge:
                params["positionSide"] = position_side.value.upper()
            order = await pooled.client.create_order(
                market["symbol"], "market", position_side.closing_side.value, None, None, params
            )
            return str(order["id"])

        return await self._in_position_mode(pooled, send)

    async def _check(self, pooled: PooledClient) -> AccountCheck:
        return await check_account(pooled, str(self))


def market_order_request(
    client: Any, market: dict[str, Any], request: OrderRequest, hedge: bool
) -> dict[str, Any]:
    """POST /fapi/v1/order's parameters for a market order as ccxt's create_order_request
    maps them (a test holds the two equal), the quantity to the market's precision."""
    order: dict[str, Any] = {
        "symbol": market["id"],
        "side": request.side.value.upper(),
        "newClientOrderId": request.client_order_id,
        "newOrderRespType": "RESULT",
        "type": "MARKET",
        "quantity": client.amount_to_precision(market["symbol"], format(request.quantity, "f")),
    }
    if hedge:
        order["positionSide"] = _hedge_position_side(request.side, request.reduce_only)
    elif request.reduce_only:
        order["reduceOnly"] = True
    return order


def _hedge_position_side(side: OrderSide, reduce_only: bool) -> str:
    """Hedge mode: buying opens LONG and closes SHORT; selling opens SHORT and closes LONG."""
    if reduce_only:
        return "SHORT" if side is OrderSide.BUY else "LONG"
    return "LONG" if side is OrderSide.BUY else "SHORT"
