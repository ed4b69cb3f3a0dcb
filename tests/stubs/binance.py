"""A Binance USD-M futures stub: the REST subset Mimic's ccxt adapter uses, over real HTTP.

It serves the real exchangeInfo (the paper exchange's copy of /fapi/v1/exchangeInfo),
verifies X-MBX-APIKEY and the HMAC-SHA256 signature like Binance, keeps per-account
state (wallet, positions per position side, orders, algo orders, leverage, margin type,
position mode), fills market orders at a settable mark price, and fails on demand:

    async with BinanceStub() as stub:
        stub.add_account("key", "secret")
        stub.fail(-2019)                                     # next order: margin insufficient
        stub.fail(status=503, after_execution=True)          # next order fills, answers 503
        stub.fail(status=429, retry_after=2, path=None)      # next request of any kind
        stub.latency = 0.05

A path it does not know answers 404 and is logged and kept in `stub.unknown`, so a test
notices when ccxt calls something the stub does not speak. Run it alone for benchmarks:
`python -m tests.stubs.binance --accounts 1000` prints `ready <base url>`.
"""

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl

from aiohttp import web

from mimic.adapters.paper.rules import DEFAULT_MARK_PRICES

log = logging.getLogger("binance_stub")

EXCHANGEINFO = Path(__file__).resolve().parents[2] / "src/mimic/adapters/paper/exchangeinfo.json"
TAKER_FEE = Decimal("0.0004")
DEFAULT_LEVERAGE = 20
WEEK_MS = 7 * 24 * 3600 * 1000
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")

MESSAGES = {
    -1003: "Too many requests; current limit of IP(127.0.0.1) is 2400 requests per minute.",
    -1007: "Timeout waiting for response from backend server. Send status unknown; "
    "execution status unknown.",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -1022: "Signature for this request is not valid.",
    -1100: "Illegal characters found in parameter 'newClientOrderId'.",
    -1102: "A mandatory parameter was not sent, was empty/null, or malformed.",
    -1106: "Parameter 'reduceOnly' sent when not required.",
    -1111: "Precision is over the maximum defined for this asset.",
    -1121: "Invalid symbol.",
    -2011: "Unknown order sent.",
    -2013: "Order does not exist.",
    -2015: "Invalid API-key, IP, or permissions for action.",
    -2019: "Margin is insufficient.",
    -2021: "Order would immediately trigger.",
    -2022: "ReduceOnly Order is rejected.",
    -4028: "Leverage is not valid",
    -4046: "No need to change margin type.",
    -4048: "Margin type cannot be changed if there exists position.",
    -4059: "No need to change position side.",
    -4061: "Order's position side does not match user's setting.",
    -4068: "Position side cannot be changed if there exists position.",
    -4116: "ClientOrderId is duplicated.",
    -4164: "Order's notional must be no smaller than 5 (unless you choose reduce only).",
}

# Request weight per endpoint, as Binance documents it (the stub's own copy: tests check
# the adapter's budget against the exchange's arithmetic, not against itself).
WEIGHTS: dict[tuple[str, str], int] = {
    ("GET", "/fapi/v1/exchangeInfo"): 1,
    ("GET", "/fapi/v1/premiumIndex"): 1,
    ("GET", "/fapi/v1/order"): 1,
    ("GET", "/fapi/v1/allOrders"): 5,
    ("DELETE", "/fapi/v1/order"): 1,
    ("POST", "/fapi/v1/order"): 0,
    ("POST", "/fapi/v1/algoOrder"): 0,
    ("GET", "/fapi/v1/openAlgoOrders"): 1,
    ("DELETE", "/fapi/v1/algoOrder"): 1,
    ("GET", "/fapi/v1/positionSide/dual"): 30,
    ("GET", "/fapi/v2/positionRisk"): 5,
    ("GET", "/fapi/v3/positionRisk"): 5,
    ("GET", "/fapi/v2/account"): 5,
    ("GET", "/fapi/v3/account"): 5,
    ("GET", "/fapi/v2/balance"): 5,
    ("GET", "/fapi/v3/balance"): 5,
}


class BinanceError(Exception):
    def __init__(self, code: int, msg: str | None = None, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.msg = msg or MESSAGES.get(code, "error")
        self.status = status


@dataclass(slots=True)
class Held:
    amount: Decimal = Decimal(0)  # signed: a short is negative (also on the SHORT side)
    entry: Decimal = Decimal(0)


@dataclass(slots=True)
class StubAccount:
    api_key: str
    secret: str
    wallet: Decimal = Decimal(10000)
    dual_side: bool = False
    can_trade: bool = True
    enable_futures: bool = True
    enable_withdrawals: bool = False
    leverage: dict[str, int] = field(default_factory=dict)
    margin_type: dict[str, str] = field(default_factory=dict)  # "cross" | "isolated"
    positions: dict[tuple[str, str], Held] = field(default_factory=dict)  # (symbol, side)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    order_by_client_id: dict[str, int] = field(default_factory=dict)
    algo_orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)  # /fapi/v1/userTrades

    def held(self, symbol: str, side: str) -> Held:
        return self.positions.setdefault((symbol, side), Held())


@dataclass(slots=True)
class Fault:
    status: int
    code: int | None
    msg: str | None
    after_execution: bool
    retry_after: float | None
    delay: float
    method: str | None
    path: str | None
    api_key: str | None
    remaining: int | None

    def matches(self, method: str, path: str, api_key: str | None) -> bool:
        return (
            self.method in (None, method)
            and self.path in (None, path)
            and self.api_key in (None, api_key)
        )


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    path: str
    api_key: str | None
    at: float  # time.monotonic() when the request arrived
    weight: int
    params: dict[str, str]


Handler = Callable[[StubAccount | None, dict[str, str]], Awaitable[Any]]


class BinanceStub:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, record: bool = True) -> None:
        self.host = host
        self.port = port
        self.record = record
        self.latency = 0.0
        self.accounts: dict[str, StubAccount] = {}
        self.marks: dict[str, Decimal] = dict(DEFAULT_MARK_PRICES)
        self.requests: list[Recorded] = []
        self.unknown: list[str] = []
        self._faults: list[Fault] = []
        self._info_bytes = EXCHANGEINFO.read_bytes()
        info = json.loads(self._info_bytes)
        self.symbols = {
            s["symbol"]: {f["filterType"]: f for f in s["filters"]} for s in info["symbols"]
        }
        self._ids = itertools.count(8_000_000_001)
        self._weight_minute = 0
        self._weight_used = 0
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self._routes: dict[tuple[str, str], tuple[bool, Handler]] = {
            ("GET", "/fapi/v1/ping"): (False, self._empty),
            ("GET", "/fapi/v1/time"): (False, self._time),
            ("GET", "/fapi/v1/exchangeInfo"): (False, self._exchange_info),
            ("GET", "/fapi/v1/premiumIndex"): (False, self._premium_index),
            ("GET", "/fapi/v1/ticker/price"): (False, self._ticker_price),
            ("POST", "/fapi/v1/order"): (True, self._new_order),
            ("GET", "/fapi/v1/order"): (True, self._query_order),
            ("GET", "/fapi/v1/allOrders"): (True, self._all_orders),
            ("DELETE", "/fapi/v1/order"): (True, self._cancel_order),
            ("POST", "/fapi/v1/algoOrder"): (True, self._new_algo_order),
            ("GET", "/fapi/v1/algoOrder"): (True, self._query_algo_order),
            ("DELETE", "/fapi/v1/algoOrder"): (True, self._cancel_algo_order),
            ("GET", "/fapi/v1/openAlgoOrders"): (True, self._open_algo_orders),
            ("DELETE", "/fapi/v1/algoOpenOrders"): (True, self._cancel_all_algo_orders),
            ("POST", "/fapi/v1/leverage"): (True, self._leverage),
            ("POST", "/fapi/v1/marginType"): (True, self._margin_type),
            ("GET", "/fapi/v1/positionSide/dual"): (True, self._get_dual),
            ("POST", "/fapi/v1/positionSide/dual"): (True, self._set_dual),
            ("GET", "/fapi/v2/positionRisk"): (True, self._position_risk_v2),
            ("GET", "/fapi/v3/positionRisk"): (True, self._position_risk_v3),
            ("GET", "/fapi/v2/account"): (True, self._account_v2),
            ("GET", "/fapi/v3/account"): (True, self._account_v3),
            ("GET", "/fapi/v2/balance"): (True, self._balance),
            ("GET", "/fapi/v3/balance"): (True, self._balance),
            ("GET", "/fapi/v1/leverageBracket"): (True, self._leverage_bracket),
            ("GET", "/fapi/v1/userTrades"): (True, self._user_trades),
            ("GET", "/sapi/v1/account/apiRestrictions"): (True, self._api_restrictions),
        }

    # --- set-up and inspection -------------------------------------------------------

    def add_account(
        self,
        api_key: str,
        secret: str,
        *,
        wallet: Decimal = Decimal(10000),
        dual_side: bool = False,
    ) -> StubAccount:
        account = StubAccount(api_key, secret, wallet=wallet, dual_side=dual_side)
        self.accounts[api_key] = account
        return account

    def set_mark_price(self, symbol: str, price: Decimal | str) -> None:
        self.marks[symbol] = Decimal(price)

    def fail(
        self,
        code: int | None = None,
        *,
        status: int | None = None,
        msg: str | None = None,
        after_execution: bool = False,
        retry_after: float | None = None,
        delay: float = 0.0,
        method: str | None = "POST",
        path: str | None = "/fapi/v1/order",
        api_key: str | None = None,
        times: int | None = 1,
    ) -> None:
        """The next `times` matching requests fail (None: until `clear_faults`).

        By default the next order. `after_execution` runs the request first (the order
        exists), then answers with the failure; `delay` waits that long before answering.
        """
        if status is None:
            status = {-1007: 408, -2015: 401, -1003: 429}.get(code or 0, 400)
        if code is None and status in (418, 429):
            code = -1003
        self._faults.append(
            Fault(
                status, code, msg, after_execution, retry_after, delay, method, path, api_key, times
            )
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def calls(self, method: str, path: str, api_key: str | None = None) -> int:
        return sum(
            1
            for r in self.requests
            if r.method == method and r.path == path and api_key in (None, r.api_key)
        )

    # --- server --------------------------------------------------------------------------

    async def start(self) -> "BinanceStub":
        app = web.Application()
        self.add_routes(app)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(cast(asyncio.Server, server).sockets[0].getsockname()[1])
        self.base_url = f"http://{self.host}:{self.port}"
        return self

    def add_routes(self, app: web.Application) -> None:
        """Routes a subclass serves besides the REST table (tried first)."""

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "BinanceStub":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        method, path = request.method, request.path
        route = self._routes.get((method, path))
        if route is None:
            self.unknown.append(f"{method} {path}")
            log.error("binance stub: unknown endpoint %s %s", method, path)
            return _error(BinanceError(-1000, f"stub: unknown endpoint {method} {path}", 404))
        signed, handler = route
        body = await request.text() if request.can_read_body else ""
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        api_key = request.headers.get("X-MBX-APIKEY")
        weight = WEIGHTS.get((method, path), 1)
        if self.record:
            self.requests.append(Recorded(method, path, api_key, arrived, weight, params))
        headers = {"X-MBX-USED-WEIGHT-1M": str(self._use_weight(weight))}
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        fault = self._take_fault(method, path, api_key)
        try:
            if fault is not None and not fault.after_execution:
                return await self._fault_response(fault, headers)
            account = self._authenticate(request, body, params) if signed else None
            result = await handler(account, params)
        except BinanceError as exc:
            return _error(exc, headers)
        if fault is not None:
            return await self._fault_response(fault, headers)
        return web.json_response(result, headers=headers)

    def _use_weight(self, weight: int) -> int:
        minute = int(time.time() // 60)
        if minute != self._weight_minute:
            self._weight_minute, self._weight_used = minute, 0
        self._weight_used += weight
        return self._weight_used

    def _take_fault(self, method: str, path: str, api_key: str | None) -> Fault | None:
        for fault in self._faults:
            if fault.matches(method, path, api_key):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None

    async def _fault_response(self, fault: Fault, headers: dict[str, str]) -> web.Response:
        if fault.delay > 0:
            await asyncio.sleep(fault.delay)
        headers = dict(headers)
        if fault.retry_after is not None:
            headers["Retry-After"] = str(int(fault.retry_after))
        if fault.code is None:
            return web.Response(status=fault.status, text="Service Unavailable", headers=headers)
        return _error(BinanceError(fault.code, fault.msg, fault.status), headers)

    def _authenticate(self, request: web.Request, body: str, params: dict[str, str]) -> StubAccount:
        account = self.accounts.get(request.headers.get("X-MBX-APIKEY", ""))
        if account is None:
            raise BinanceError(-2015, status=401)
        query = request.query_string
        if "signature=" in body:
            payload, _, signature = body.rpartition("&signature=")
            payload = query + payload
        else:
            payload, _, signature = query.rpartition("&signature=")
        expected = hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise BinanceError(-1022)
        timestamp = int(params.get("timestamp", "0"))
        window = int(params.get("recvWindow", "5000"))
        if abs(time.time() * 1000 - timestamp) > window + 1000:
            raise BinanceError(-1021)
        return account

    # --- market data ---------------------------------------------------------------------

    async def _empty(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        return {}

    async def _time(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        return {"serverTime": int(time.time() * 1000)}

    async def _exchange_info(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        return json.loads(self._info_bytes)

    def _symbol(self, params: dict[str, str]) -> str:
        symbol = params.get("symbol", "")
        if symbol not in self.symbols:
            raise BinanceError(-1121)
        return symbol

    async def _premium_index(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        symbols = [self._symbol(params)] if "symbol" in params else sorted(self.symbols)
        rows = [
            {
                "symbol": s,
                "markPrice": str(self.marks[s]),
                "indexPrice": str(self.marks[s]),
                "estimatedSettlePrice": str(self.marks[s]),
                "lastFundingRate": "0.00010000",
                "interestRate": "0.00010000",
                "nextFundingTime": 0,
                "time": int(time.time() * 1000),
            }
            for s in symbols
        ]
        return rows[0] if "symbol" in params else rows

    async def _ticker_price(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        symbol = self._symbol(params)
        return {"symbol": symbol, "price": str(self.marks[symbol]), "time": int(time.time() * 1000)}

    # --- orders --------------------------------------------------------------------------

    async def _new_order(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        symbol = self._symbol(params)
        filters = self.symbols[symbol]
        if params.get("type") != "MARKET":
            raise BinanceError(-1116, "Invalid orderType.")
        side = params.get("side", "")
        if side not in ("BUY", "SELL"):
            raise BinanceError(-1102)
        client_id = params.get("newClientOrderId") or f"stub-{next(self._ids)}"
        if not _CLIENT_ID.match(client_id):
            raise BinanceError(-1100)
        position_side = params.get("positionSide", "BOTH")
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        self._check_position_side(account, position_side)
        if account.dual_side and "reduceOnly" in params:
            raise BinanceError(-1106)
        quantity = Decimal(params.get("quantity", "0"))
        lot = filters.get("MARKET_LOT_SIZE") or filters["LOT_SIZE"]
        if quantity <= 0:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        if quantity % Decimal(lot["stepSize"]) != 0:
            raise BinanceError(-1111)
        if quantity < Decimal(lot["minQty"]) or quantity > Decimal(lot["maxQty"]):
            raise BinanceError(-4005, "Quantity greater than max quantity.")
        mark = self.marks[symbol]
        buying = side == "BUY"
        if position_side == "BOTH":
            held = account.held(symbol, "BOTH")
            reduces = held.amount != 0 and (held.amount > 0) != buying
            if reduce_only:
                if not reduces:
                    raise BinanceError(-2022)
                quantity = min(quantity, abs(held.amount))
        else:
            held = account.held(symbol, position_side)
            reduces = (position_side == "LONG") != buying
            if reduces and (held.amount == 0 or quantity > abs(held.amount)):
                raise BinanceError(-2022)
        notional = quantity * mark
        if not reduces and notional < Decimal(filters["MIN_NOTIONAL"]["notional"]):
            raise BinanceError(-4164)
        leverage = account.leverage.get(symbol, DEFAULT_LEVERAGE)
        fee = (notional * TAKER_FEE).quantize(Decimal("0.00000001"))
        if not reduces and notional / leverage + fee > self._available(account):
            raise BinanceError(-2019)
        signed_qty = quantity if buying else -quantity
        realized = _apply_fill(held, signed_qty, mark)
        account.wallet += realized - fee
        order_id = next(self._ids)
        now = int(time.time() * 1000)
        account.trades.append(
            {
                "buyer": buying,
                "commission": str(fee),
                "commissionAsset": "USDT",
                "id": next(self._ids),
                "maker": False,
                "orderId": order_id,
                "price": str(mark),
                "qty": str(quantity),
                "quoteQty": str(notional),
                "realizedPnl": str(realized),
                "side": side,
                "positionSide": position_side,
                "symbol": symbol,
                "time": now,
            }
        )
        order = {
            "orderId": order_id,
            "symbol": symbol,
            "status": "FILLED",
            "clientOrderId": client_id,
            "price": "0.00",
            "avgPrice": str(mark),
            "origQty": str(quantity),
            "executedQty": str(quantity),
            "cumQty": str(quantity),
            "cumQuote": str(notional),
            "timeInForce": "GTC",
            "type": "MARKET",
            "reduceOnly": reduce_only,
            "closePosition": False,
            "side": side,
            "positionSide": position_side,
            "stopPrice": "0.00",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": "MARKET",
            "priceMatch": "NONE",
            "selfTradePreventionMode": "NONE",
            "goodTillDate": 0,
            "time": now,
            "updateTime": now,
        }
        account.orders[order_id] = order
        account.order_by_client_id[client_id] = order_id
        return order

    def _check_position_side(self, account: StubAccount, position_side: str) -> None:
        if position_side not in ("BOTH", "LONG", "SHORT"):
            raise BinanceError(-4006, "Invalid position side.")
        if account.dual_side == (position_side == "BOTH"):
            raise BinanceError(-4061)

    def _find_order(self, account: StubAccount, params: dict[str, str]) -> dict[str, Any]:
        symbol = self._symbol(params)
        if "orderId" in params:
            order_id: int | None = int(params["orderId"])
        elif "origClientOrderId" in params:
            order_id = account.order_by_client_id.get(params["origClientOrderId"])
        else:
            raise BinanceError(-1102)
        order = account.orders.get(order_id) if order_id is not None else None
        if order is None or order["symbol"] != symbol:
            raise BinanceError(-2013)
        return order

    async def _user_trades(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        """Like Binance: one symbol, at most 7 days between startTime and endTime."""
        assert account is not None
        symbol = self._symbol(params)
        start = int(params.get("startTime", "0"))
        end = int(params.get("endTime", str(start + WEEK_MS)))
        if end - start > WEEK_MS:
            raise BinanceError(-1127, "More than 7 days between startTime and endTime.")
        limit = min(int(params.get("limit", "500")), 1000)
        found = [t for t in account.trades if t["symbol"] == symbol and start <= t["time"] <= end]
        return found[:limit]

    async def _query_order(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        return self._find_order(account, params)

    async def _all_orders(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        """Like Binance: one symbol's orders, oldest first; without startTime the latest."""
        assert account is not None
        symbol = self._symbol(params)
        limit = min(int(params.get("limit", "500")), 1000)
        start = int(params.get("startTime", "0"))
        found = [o for o in account.orders.values() if o["symbol"] == symbol]
        found = [o for o in sorted(found, key=lambda o: o["orderId"]) if o["time"] >= start]
        return found[:limit] if "startTime" in params else found[-limit:]

    async def _cancel_order(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        self._find_order(account, params)
        raise BinanceError(-2011)  # market orders are filled at once: nothing to cancel

    async def _new_algo_order(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        symbol = self._symbol(params)
        if params.get("algoType") != "CONDITIONAL":
            raise BinanceError(-1102)
        order_type = params.get("type", "")
        if order_type not in ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT"):
            raise BinanceError(-1116, "Invalid orderType.")
        position_side = params.get("positionSide", "BOTH")
        self._check_position_side(account, position_side)
        close_position = params.get("closePosition", "false").lower() == "true"
        if close_position and "reduceOnly" in params:
            raise BinanceError(-1106)
        if "triggerPrice" not in params:
            raise BinanceError(-1102)
        client_id = params.get("clientAlgoId") or f"stub-{next(self._ids)}"
        if any(
            o["clientAlgoId"] == client_id and o["algoStatus"] == "NEW"
            for o in account.algo_orders.values()
        ):
            raise BinanceError(-4116)
        algo_id = next(self._ids)
        now = int(time.time() * 1000)
        order = {
            "algoId": algo_id,
            "clientAlgoId": client_id,
            "algoType": "CONDITIONAL",
            "orderType": order_type,
            "symbol": symbol,
            "side": params.get("side"),
            "positionSide": position_side,
            "timeInForce": "GTC",
            "quantity": params.get("quantity", "0"),
            "algoStatus": "NEW",
            "triggerPrice": params["triggerPrice"],
            "price": params.get("price", "0"),
            "icebergQuantity": None,
            "selfTradePreventionMode": "NONE",
            "workingType": params.get("workingType", "CONTRACT_PRICE"),
            "priceMatch": "NONE",
            "closePosition": close_position,
            "priceProtect": False,
            "reduceOnly": params.get("reduceOnly", "false").lower() == "true",
            "createTime": now,
            "updateTime": now,
            "triggerTime": 0,
            "goodTillDate": 0,
        }
        account.algo_orders[algo_id] = order
        return order

    def _find_algo(self, account: StubAccount, params: dict[str, str]) -> dict[str, Any]:
        if "algoId" in params:
            order = account.algo_orders.get(int(params["algoId"]))
        else:
            wanted = params.get("clientAlgoId")
            order = next(
                (o for o in account.algo_orders.values() if o["clientAlgoId"] == wanted), None
            )
        if order is None:
            raise BinanceError(-2013)
        return order

    async def _query_algo_order(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        return self._find_algo(account, params)

    async def _cancel_algo_order(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        order = self._find_algo(account, params)
        if order["algoStatus"] != "NEW":
            raise BinanceError(-2011)
        order["algoStatus"] = "CANCELED"
        return {
            "algoId": order["algoId"],
            "clientAlgoId": order["clientAlgoId"],
            "code": "200",
            "msg": "success",
        }

    async def _open_algo_orders(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        symbol = params.get("symbol")
        return [
            o
            for o in account.algo_orders.values()
            if o["algoStatus"] == "NEW" and symbol in (None, o["symbol"])
        ]

    async def _cancel_all_algo_orders(
        self, account: StubAccount | None, params: dict[str, str]
    ) -> Any:
        assert account is not None
        symbol = self._symbol(params)
        for order in account.algo_orders.values():
            if order["symbol"] == symbol and order["algoStatus"] == "NEW":
                order["algoStatus"] = "CANCELED"
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    # --- account settings ----------------------------------------------------------------

    async def _leverage(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        symbol = self._symbol(params)
        leverage = int(params.get("leverage", "0"))
        if not 1 <= leverage <= 125:
            raise BinanceError(-4028)
        account.leverage[symbol] = leverage
        return {"leverage": leverage, "maxNotionalValue": "1000000", "symbol": symbol}

    async def _margin_type(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        symbol = self._symbol(params)
        wanted = {"ISOLATED": "isolated", "CROSSED": "cross"}.get(params.get("marginType", ""))
        if wanted is None:
            raise BinanceError(-1102)
        if account.margin_type.get(symbol, "cross") == wanted:
            raise BinanceError(-4046)
        if any(s == symbol and h.amount != 0 for (s, _), h in account.positions.items()):
            raise BinanceError(-4048)
        account.margin_type[symbol] = wanted
        return {"code": 200, "msg": "success"}

    async def _get_dual(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        return {"dualSidePosition": account.dual_side}

    async def _set_dual(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        wanted = params.get("dualSidePosition", "").lower() == "true"
        if wanted == account.dual_side:
            raise BinanceError(-4059)
        if any(h.amount != 0 for h in account.positions.values()):
            raise BinanceError(-4068)
        account.dual_side = wanted
        return {"code": 200, "msg": "success"}

    # --- account reads -------------------------------------------------------------------

    def _sides(self, account: StubAccount) -> tuple[str, ...]:
        return ("LONG", "SHORT") if account.dual_side else ("BOTH",)

    def _unrealized(self, account: StubAccount) -> Decimal:
        return sum(
            ((self.marks[s] - h.entry) * h.amount for (s, _), h in account.positions.items()),
            Decimal(0),
        )

    def _initial_margin(self, account: StubAccount) -> Decimal:
        return sum(
            (
                abs(h.amount) * h.entry / account.leverage.get(s, DEFAULT_LEVERAGE)
                for (s, _), h in account.positions.items()
            ),
            Decimal(0),
        )

    def _available(self, account: StubAccount) -> Decimal:
        return account.wallet + self._unrealized(account) - self._initial_margin(account)

    def _risk_row(self, account: StubAccount, symbol: str, side: str) -> dict[str, Any]:
        held = account.positions.get((symbol, side), Held())
        mark = self.marks[symbol]
        return {
            "symbol": symbol,
            "positionAmt": str(held.amount),
            "entryPrice": str(held.entry),
            "breakEvenPrice": "0.0",
            "markPrice": str(mark),
            "unRealizedProfit": str((mark - held.entry) * held.amount),
            "liquidationPrice": "0",
            "leverage": str(account.leverage.get(symbol, DEFAULT_LEVERAGE)),
            "maxNotionalValue": "1000000",
            "marginType": account.margin_type.get(symbol, "cross"),
            "isolatedMargin": "0.00000000",
            "isAutoAddMargin": "false",
            "positionSide": side,
            "notional": str(held.amount * mark),
            "isolatedWallet": "0",
            "updateTime": int(time.time() * 1000),
        }

    async def _position_risk_v2(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        symbols = [self._symbol(params)] if "symbol" in params else sorted(self.symbols)
        return [self._risk_row(account, s, side) for s in symbols for side in self._sides(account)]

    async def _position_risk_v3(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        rows = await self._position_risk_v2(account, params)
        return [
            {k: v for k, v in row.items() if k not in ("leverage", "marginType")}
            for row in rows
            if Decimal(row["positionAmt"]) != 0
        ]

    def _asset(self, account: StubAccount) -> dict[str, Any]:
        unrealized = self._unrealized(account)
        margin = self._initial_margin(account)
        return {
            "asset": "USDT",
            "walletBalance": str(account.wallet),
            "unrealizedProfit": str(unrealized),
            "marginBalance": str(account.wallet + unrealized),
            "maintMargin": "0",
            "initialMargin": str(margin),
            "positionInitialMargin": str(margin),
            "openOrderInitialMargin": "0",
            "crossWalletBalance": str(account.wallet),
            "crossUnPnl": str(unrealized),
            "availableBalance": str(self._available(account)),
            "maxWithdrawAmount": str(self._available(account)),
            "updateTime": int(time.time() * 1000),
        }

    async def _account_v3(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        asset = self._asset(account)
        return {
            "totalInitialMargin": asset["initialMargin"],
            "totalMaintMargin": "0",
            "totalWalletBalance": asset["walletBalance"],
            "totalUnrealizedProfit": asset["unrealizedProfit"],
            "totalMarginBalance": asset["marginBalance"],
            "totalPositionInitialMargin": asset["initialMargin"],
            "totalOpenOrderInitialMargin": "0",
            "totalCrossWalletBalance": asset["walletBalance"],
            "totalCrossUnPnl": asset["unrealizedProfit"],
            "availableBalance": asset["availableBalance"],
            "maxWithdrawAmount": asset["maxWithdrawAmount"],
            "assets": [asset],
            "positions": [
                {
                    "symbol": s,
                    "positionSide": side,
                    "positionAmt": str(h.amount),
                    "unrealizedProfit": str((self.marks[s] - h.entry) * h.amount),
                }
                for (s, side), h in account.positions.items()
                if h.amount != 0
            ],
        }

    async def _account_v2(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        body = await self._account_v3(account, params)
        body.update(
            feeTier=0,
            canTrade=account.can_trade,
            canDeposit=True,
            canWithdraw=True,
            updateTime=0,
            multiAssetsMargin=False,
        )
        return body

    async def _balance(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        asset = self._asset(account)
        return [
            {
                "accountAlias": "stub",
                "asset": "USDT",
                "balance": asset["walletBalance"],
                "crossWalletBalance": asset["walletBalance"],
                "crossUnPnl": asset["unrealizedProfit"],
                "availableBalance": asset["availableBalance"],
                "maxWithdrawAmount": asset["maxWithdrawAmount"],
                "marginAvailable": True,
                "updateTime": asset["updateTime"],
            }
        ]

    async def _leverage_bracket(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        symbols = [self._symbol(params)] if "symbol" in params else sorted(self.symbols)
        return [
            {
                "symbol": s,
                "brackets": [
                    {
                        "bracket": 1,
                        "initialLeverage": 125,
                        "notionalCap": 50000,
                        "notionalFloor": 0,
                        "maintMarginRatio": 0.004,
                        "cum": 0.0,
                    }
                ],
            }
            for s in symbols
        ]

    async def _api_restrictions(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        assert account is not None
        return {
            "ipRestrict": False,
            "createTime": 1_700_000_000_000,
            "enableReading": True,
            "enableFutures": account.enable_futures,
            "enableWithdrawals": account.enable_withdrawals,
            "enableInternalTransfer": False,
            "permitsUniversalTransfer": False,
            "enableVanillaOptions": False,
            "enableMargin": False,
            "enableSpotAndMarginTrading": False,
        }


def _apply_fill(held: Held, signed_qty: Decimal, price: Decimal) -> Decimal:
    """Update a position by a fill; returns the realized PnL."""
    before, after = held.amount, held.amount + signed_qty
    if before == 0 or (before > 0) == (signed_qty > 0):
        held.entry = (abs(before) * held.entry + abs(signed_qty) * price) / abs(after)
        held.amount = after
        return Decimal(0)
    closed = min(abs(signed_qty), abs(before))
    realized = (price - held.entry) * closed * (1 if before > 0 else -1)
    if after == 0:
        held.entry = Decimal(0)
    elif (after > 0) != (before > 0):
        held.entry = price
    held.amount = after
    return realized


def _error(exc: BinanceError, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status, headers=headers)


@contextlib.contextmanager
def running_in_thread(stub: BinanceStub) -> Iterator[BinanceStub]:
    """The stub on an event loop of its own, in a thread.

    For tests that drive the app through Litestar's test client, which blocks the test's
    event loop for the length of each request: a stub on that loop could not answer.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="binance-stub", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(stub.start(), loop).result(timeout=10)
        try:
            yield stub
        finally:
            asyncio.run_coroutine_threadsafe(stub.close(), loop).result(timeout=10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def bench_credentials(count: int) -> Iterable[tuple[str, str]]:
    """Deterministic keys for a stub run in another process (benchmarks)."""
    return ((f"bench-key-{i:05d}", f"bench-secret-{i:05d}") for i in range(count))


async def _serve(accounts: int, port: int) -> None:
    await serve_until_stdin_closes(BinanceStub(port=port, record=False), accounts)


async def serve_until_stdin_closes(stub: BinanceStub, accounts: int) -> None:
    """For benchmarks in another process: `accounts` bench accounts, then `ready <url>`."""
    for key, secret in bench_credentials(accounts):
        stub.add_account(key, secret, wallet=Decimal(1_000_000))
    await stub.start()
    print(f"ready {stub.base_url}", flush=True)
    try:
        # Until stdin closes: the parent process ending is the signal to stop.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await stub.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Binance USD-M stub server")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(_serve(args.accounts, args.port))
