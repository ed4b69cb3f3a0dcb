"""ExchangeGateway on ccxt's unified API: any ccxt exchange with perpetual swaps.

One boundary class per exchange family (as freqtrade does): `CcxtGateway` speaks ccxt's
unified API; `BinanceUsdmGateway` (binance.py) overrides what Binance does better or
differently. Nothing here resends an order: a request whose outcome is unknown raises
`OutcomeUnknown`, and the caller looks the order up by its client order id first.
"""

import logging
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import ccxt.async_support as ccxt

from mimic.adapters.ccxt.clients import PooledClient
from mimic.adapters.ccxt.errors import Call, exchange_message, is_order_not_found
from mimic.adapters.ccxt.fills import AccountFills
from mimic.adapters.ccxt.values import (
    FEE_SCALE,
    check_quantity,
    contract_size,
    domain_symbol,
    taker_rate,
    to_decimal,
    to_decimal_or,
)
from mimic.adapters.exchange_base import ExchangeGatewayBase
from mimic.domain.accounts import AccountCheck
from mimic.domain.errors import (
    AuthRejected,
    OrderRejected,
    OutcomeUnknown,
)
from mimic.domain.market import MarketRules
from mimic.domain.orders import OrderFill, OrderRequest, OrderSide
from mimic.domain.positions import Balance, Position, PositionSide
from mimic.domain.protection import PROTECTIVE_PREFIX

log = logging.getLogger(__name__)


SETTLEMENT_CURRENCY = "USDT"
MAX_PROTECTIVE_PREFIX = 34  # client ids are prefix + "sl" / "tp": Binance allows 36
# How many of the account's latest orders on a symbol are searched for a client id.
RECENT_ORDERS = 100


class CcxtGateway(AccountFills, ExchangeGatewayBase):
    """One follower account on a ccxt exchange, through ccxt's unified API.

    Quantities in the domain are in the base asset (BTC); ccxt counts swap amounts in
    contracts, so they are converted with the market's contract size.
    """

    # --- the port ---------------------------------------------------------------------

    async def market_rules(self, symbol: str) -> MarketRules:
        market = await self._market(symbol)
        return self._rules(symbol, market)

    async def fetch_mark_price(self, symbol: str) -> Decimal:
        market = await self._market(symbol)

        async def fetch() -> Decimal:
            return await self._public_call(lambda public: self._read_mark_price(public, market))

        return await self._mark_prices.get(symbol, fetch)

    async def fetch_balance(self) -> Balance:
        return await self._call(Call.READ, self._read_balance)

    async def fetch_positions(self) -> list[Position]:
        return await self._call(Call.READ, lambda pooled: self._read_positions(pooled, None))

    async def fetch_position(self, symbol: str) -> Position | None:
        market = await self._market(symbol)
        positions = await self._call(Call.READ, lambda pooled: self._read_positions(pooled, market))
        if len(positions) > 1:
            raise OrderRejected(
                f"both a long and a short {symbol} position are open (hedge mode); Mimic "
                "copies one position per symbol: close one of them"
            )
        return positions[0] if positions else None

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        market = await self._market(symbol)
        rules = self._rules(symbol, market)
        if not 1 <= leverage <= rules.max_leverage:
            raise OrderRejected(
                f"leverage {leverage} is not valid for {symbol}: choose 1 to {rules.max_leverage}"
            )

        async def apply(pooled: PooledClient) -> None:
            state = pooled.state
            if self._margin_mode is not None and state.margin_mode.get(symbol) != self._margin_mode:
                await self._apply_margin_mode(pooled, market, symbol)
            if state.leverage.get(symbol) != leverage:
                await pooled.client.set_leverage(leverage, market["symbol"])
                state.leverage[symbol] = leverage

        await self._call(Call.SETTING, apply)

    async def place_market_order(self, request: OrderRequest) -> OrderFill:
        market = await self._market(request.symbol)
        rules = self._rules(request.symbol, market)
        check_quantity(request.quantity, rules)
        return await self._call(Call.ORDER, lambda pooled: self._place(pooled, market, request))

    async def find_order(self, symbol: str, client_order_id: str) -> OrderFill | None:
        market = await self._market(symbol)

        async def look_up(pooled: PooledClient) -> OrderFill | None:
            try:
                order = await self._fetch_order_by_client_id(pooled, market, client_order_id)
            except Exception as exc:
                if is_order_not_found(exc):
                    return None
                raise
            return self._found(pooled, market, symbol, client_order_id, order)

        return await self._call(Call.READ, look_up)

    async def find_recent_order(self, symbol: str, client_order_id: str) -> OrderFill | None:
        market = await self._market(symbol)

        async def search(pooled: PooledClient) -> OrderFill | None:
            for order in await self._recent_orders(
                pooled, market
            ):  # oldest first: a reused client id's first execution
                if order.get("clientOrderId") == client_order_id:
                    fill = self._found(pooled, market, symbol, client_order_id, order)
                    if fill is not None:
                        return fill
            return None

        if not self._lists_orders():
            return await self.find_order(symbol, client_order_id)
        return await self._call(Call.READ, search)

    async def place_protective_orders(
        self,
        symbol: str,
        position_side: PositionSide,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        client_order_id_prefix: str,
    ) -> list[str]:
        if stop_loss is None and take_profit is None:
            return []
        if len(client_order_id_prefix) > MAX_PROTECTIVE_PREFIX:
            raise OrderRejected(
                f"client order id prefix {client_order_id_prefix!r} is longer than "
                f"{MAX_PROTECTIVE_PREFIX} characters"
            )
        market = await self._market(symbol)
        rules = self._rules(symbol, market)
        ids = []
        for kind, price in (("sl", stop_loss), ("tp", take_profit)):
            if price is None:
                continue
            trigger = rules.round_price(price)
            if trigger <= 0:
                raise OrderRejected(f"{kind} price {price} of {symbol} must be positive")
            ids.append(
                await self._call(
                    Call.ORDER,
                    self._protective_placer(
                        market, position_side, kind, trigger, client_order_id_prefix + kind
                    ),
                )
            )
        return ids

    def _protective_placer(
        self,
        market: dict[str, Any],
        position_side: PositionSide,
        kind: str,
        trigger: Decimal,
        client_id: str,
    ) -> Callable[[PooledClient], Awaitable[str]]:
        async def place(pooled: PooledClient) -> str:
            return await self._place_protective(
                pooled, market, position_side, kind, trigger, client_id
            )

        return place

    async def cancel_protective_orders(self, symbol: str) -> None:
        market = await self._market(symbol)

        async def cancel(pooled: PooledClient) -> None:
            orders = await pooled.client.fetch_open_orders(
                market["symbol"], None, None, {"trigger": True}
            )
            for order in orders:
                if not str(order.get("clientOrderId") or "").startswith(PROTECTIVE_PREFIX):
                    continue  # the follower's own conditional orders are theirs to manage
                try:
                    await pooled.client.cancel_order(
                        order["id"], market["symbol"], {"trigger": True}
                    )
                except Exception as exc:
                    if not is_order_not_found(exc):
                        raise  # already triggered or cancelled: nothing left to do

        await self._call(Call.SETTING, cancel)

    async def check_account(self) -> AccountCheck:
        """Definitive answers (bad keys, no futures) come back as ok=False; an outage or a
        rate limit raises, so the validation is retried later."""
        try:
            return await self._call(Call.READ, self._check)
        except AuthRejected as exc:
            return AccountCheck(ok=False, detail=f"credentials rejected: {exc.reason}")

    # --- exchange behaviour (the unified ccxt API; Binance overrides) ------------------

    def _rules(self, symbol: str, market: dict[str, Any]) -> MarketRules:
        return self._clients.rules_for(symbol, market, lambda: self._parse_rules(symbol, market))

    def _parse_rules(self, symbol: str, market: dict[str, Any]) -> MarketRules:
        size = contract_size(market)
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}
        amount = limits.get("market") or {}
        if amount.get("min") is None:
            amount = limits.get("amount") or {}
        step = to_decimal(precision.get("amount")) * size
        leverage = (limits.get("leverage") or {}).get("max")
        return MarketRules(
            symbol=symbol,
            step_size=step,
            tick_size=to_decimal(precision.get("price")),
            min_qty=to_decimal_or(amount.get("min"), Decimal(0)) * size or step,
            max_qty=to_decimal_or(amount.get("max"), Decimal(10) ** 12) * size,
            min_notional=to_decimal_or((limits.get("cost") or {}).get("min"), Decimal(0)),
            max_leverage=int(leverage) if leverage else 125,
        )

    async def _read_mark_price(self, public: Any, market: dict[str, Any]) -> Decimal:
        if public.has.get("fetchMarkPrice"):
            ticker = await public.fetch_mark_price(market["symbol"])
        else:
            ticker = await public.fetch_ticker(market["symbol"])
        info = ticker.get("info") or {}
        price = ticker.get("markPrice") or info.get("markPrice") or ticker.get("last")
        return to_decimal(price)

    async def _read_balance(self, pooled: PooledClient) -> Balance:
        balance = await pooled.client.fetch_balance()
        entry = balance.get(SETTLEMENT_CURRENCY) or {}
        # ccxt's unified balance has no unrealized PnL: the total is taken as the wallet.
        return Balance(
            currency=SETTLEMENT_CURRENCY,
            wallet_balance=to_decimal_or(entry.get("total"), Decimal(0)),
            unrealized_pnl=Decimal(0),
            available=to_decimal_or(entry.get("free"), Decimal(0)),
        )

    async def _read_positions(
        self, pooled: PooledClient, market: dict[str, Any] | None
    ) -> list[Position]:
        symbols = None if market is None else [market["symbol"]]
        positions = []
        for raw in await pooled.client.fetch_positions(symbols):
            contracts = to_decimal_or(raw.get("contracts"), Decimal(0))
            if contracts == 0:
                continue
            raw_market = self._clients.public.market(raw["symbol"])
            side = PositionSide.SHORT if raw.get("side") == "short" else PositionSide.LONG
            positions.append(
                Position(
                    symbol=domain_symbol(raw_market),
                    side=side,
                    quantity=abs(contracts) * contract_size(raw_market),
                    entry_price=to_decimal_or(raw.get("entryPrice"), Decimal(0)),
                    leverage=int(raw.get("leverage") or 1),
                    mark_price=to_decimal_or(raw.get("markPrice"), Decimal(0)) or None,
                )
            )
        return positions

    async def _apply_margin_mode(
        self, pooled: PooledClient, market: dict[str, Any], symbol: str
    ) -> None:
        try:
            await pooled.client.set_margin_mode(self._margin_mode, market["symbol"])
        except (ccxt.NoChange, ccxt.MarginModeAlreadySet):
            pass
        except ccxt.NetworkError:
            raise
        except ccxt.ExchangeError as exc:
            # E.g. Binance -4047/-4048: not while a position or orders are open. The order
            # still goes out, in the mode the follower has; copying must not stop here.
            log.warning(
                "%s: margin mode of %s stays as it is: %s", self, symbol, exchange_message(exc)[1]
            )
            return
        pooled.state.margin_mode[symbol] = str(self._margin_mode)

    async def _hedge_mode(self, pooled: PooledClient, market: dict[str, Any]) -> bool:
        state = pooled.state
        if state.hedge_mode is None:
            if pooled.client.has.get("fetchPositionMode"):
                mode = await pooled.client.fetch_position_mode(market["symbol"])
                state.hedge_mode = bool(mode.get("hedged"))
            else:
                state.hedge_mode = False
        return state.hedge_mode

    def _order_params(self, request: OrderRequest, hedge: bool) -> dict[str, Any]:
        params: dict[str, Any] = {"clientOrderId": request.client_order_id}
        if request.reduce_only:
            params["reduceOnly"] = True
        if hedge:
            params["hedged"] = True  # ccxt's unified flag for exchanges that know it
        return params

    async def _place(
        self, pooled: PooledClient, market: dict[str, Any], request: OrderRequest
    ) -> OrderFill:
        hedge = await self._hedge_mode(pooled, market)
        amount = request.quantity / contract_size(market)
        order = await pooled.client.create_order(
            market["symbol"],
            "market",
            request.side.value,
            format(amount, "f"),
            None,
            self._order_params(request, hedge),
        )
        if order.get("status") not in ("closed", "canceled", "expired", "rejected"):
            # Many exchanges answer a new order with its id only: read it back once.
            order = await pooled.client.fetch_order(order["id"], market["symbol"])
        fill = self._found(pooled, market, request.symbol, request.client_order_id, order)
        if fill is None:
            raise OrderRejected(
                f"{self.exchange}: market order {request.client_order_id} ended "
                f"{order.get('status')} without a fill"
            )
        return fill

    async def _fetch_order_by_client_id(
        self, pooled: PooledClient, market: dict[str, Any], client_order_id: str
    ) -> dict[str, Any]:
        order: dict[str, Any] = await pooled.client.fetch_order(
            None, market["symbol"], {"clientOrderId": client_order_id}
        )
        return order

    def _lists_orders(self) -> bool:
        has = self._clients.public.has
        return bool(has.get("fetchOrders") or has.get("fetchClosedOrders"))

    async def _recent_orders(
        self, pooled: PooledClient, market: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The account's latest orders on the market, oldest first (ccxt's order)."""
        client = pooled.client
        if client.has.get("fetchOrders"):
            orders: list[dict[str, Any]] = await client.fetch_orders(
                market["symbol"], None, RECENT_ORDERS
            )
        else:
            orders = await client.fetch_closed_orders(market["symbol"], None, RECENT_ORDERS)
        return orders

    def _found(
        self,
        pooled: PooledClient,
        market: dict[str, Any],
        symbol: str,
        client_order_id: str,
        order: dict[str, Any],
    ) -> OrderFill | None:
        """An order as the exchange reports it: its fill, None if it certainly did not
        execute, OutcomeUnknown while it is still working."""
        status = order.get("status")
        filled = to_decimal_or(order.get("filled"), Decimal(0)) * contract_size(market)
        if status == "open" or status is None:
            raise OutcomeUnknown(
                f"{self.exchange}: order {client_order_id} is still working on the exchange"
            )
        if filled == 0:
            return None
        average = to_decimal(order.get("average"))
        fee = order.get("fee") or {}
        cost = to_decimal_or(fee.get("cost"), filled * average * taker_rate(market))
        return OrderFill(
            exchange_order_id=str(order["id"]),
            client_order_id=client_order_id,
            symbol=symbol,
            side=OrderSide(str(order["side"]).lower()),
            quantity=filled,
            average_price=average,
            fee=cost.quantize(FEE_SCALE, rounding=ROUND_HALF_UP),
            reduce_only=bool(order.get("reduceOnly")),
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
        position = next(iter(await self._read_positions(pooled, market)), None)
        if position is None or position.side is not position_side:
            raise OrderRejected(
                f"no open {position_side.value} {domain_symbol(market)} position to protect"
            )
        params: dict[str, Any] = {
            "clientOrderId": client_id,
            "reduceOnly": True,
            "stopLossPrice" if kind == "sl" else "takeProfitPrice": format(trigger, "f"),
        }
        order = await pooled.client.create_order(
            market["symbol"],
            "market",
            position_side.closing_side.value,
            format(position.quantity / contract_size(market), "f"),
            None,
            params,
        )
        return str(order["id"])

    async def _check(self, pooled: PooledClient) -> AccountCheck:
        await self._read_balance(pooled)
        hedge = None
        if pooled.client.has.get("fetchPositionMode"):
            hedge = bool((await pooled.client.fetch_position_mode()).get("hedged"))
            pooled.state.hedge_mode = hedge
        return AccountCheck(
            ok=True,
            detail=f"{self.exchange}: credentials valid, futures account readable",
            futures_enabled=True,
            can_trade=None,
            hedge_mode=hedge,
        )
