"""The Binance USD-M stub with user data streams: listen keys over REST and the account's
events over a WebSocket on loopback, as ccxt.pro connects to them.

    async with BinanceUserStream() as stub:
        stub.add_account("key", "secret")
        await stub.fire_algo("key", "mp-...tp")   # a TP/SL triggers: ALGO_UPDATE, fill, ...
        await stub.disconnect("key")              # the connection drops mid-stream
        await stub.expire_listen_key("key")       # listenKeyExpired; the key is dead
        stub.drop_next["key"] = 1                 # the next event is never sent
        stub.drop_kinds = {"ORDER_TRADE_UPDATE"}  # fills are never told
        stub.duplicate_next["key"] = 1            # the next event is sent twice

Every execution pushes ACCOUNT_UPDATE (the position after it) and ORDER_TRADE_UPDATE
(x=TRADE, or CALCULATED for a liquidation) to the account's open streams, with the fields
Binance sends (see the captured samples in tests/data/binance_user_data).
"""

import argparse
import asyncio
import json
import secrets
import time
from typing import Any

from aiohttp import WSMsgType, web

from tests.stubs.binance import BinanceError, BinanceStub, StubAccount, serve_until_stdin_closes


class BinanceUserStream(BinanceStub):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.listen_keys: dict[str, str] = {}  # live listen key -> api key
        self.keepalives = 0
        self.connections = 0  # WebSocket connections accepted so far
        self.sent = 0  # events sent, duplicates included
        self.drop_next: dict[str, int] = {}
        self.duplicate_next: dict[str, int] = {}
        self.drop_kinds: set[str] = set()  # events of these kinds are never sent
        self._sockets: dict[str, list[tuple[str, web.WebSocketResponse]]] = {}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("POST", "/fapi/v1/listenKey", self._start_stream)
        app.router.add_route("PUT", "/fapi/v1/listenKey", self._keep_alive)
        app.router.add_route("DELETE", "/fapi/v1/listenKey", self._close_stream)
        app.router.add_get("/private/ws", self._stream)

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    def streaming(self, api_key: str) -> int:
        """Open streams of the account whose listen key is alive."""
        return sum(1 for key, _ in self._sockets.get(api_key, []) if key in self.listen_keys)

    # --- faults --------------------------------------------------------------------------

    async def disconnect(self, api_key: str) -> None:
        for _, socket in list(self._sockets.get(api_key, [])):
            await socket.close()

    async def expire_listen_key(self, api_key: str) -> None:
        """As Binance after 60 minutes without a keep-alive: the event, then silence."""
        for key, socket in list(self._sockets.get(api_key, [])):
            if self.listen_keys.get(key) == api_key:
                message = {"e": "listenKeyExpired", "E": str(_now_ms()), "listenKey": key}
                await socket.send_str(json.dumps(message))
        for key in [k for k, owner in self.listen_keys.items() if owner == api_key]:
            del self.listen_keys[key]

    # --- what the exchange does ----------------------------------------------------------

    async def _new_order(self, account: StubAccount | None, params: dict[str, str]) -> Any:
        order = await super()._new_order(account, params)
        assert account is not None
        await self._executed(account, order, "TRADE")
        return order

    async def _executed(self, account: StubAccount, order: dict[str, Any], execution: str) -> None:
        """As Binance tells a fill: the position after it (ACCOUNT_UPDATE), then the fill."""
        if "ACCOUNT_UPDATE" not in self.drop_kinds:
            await self.push(account.api_key, self._account_update(account, order))
        if "ORDER_TRADE_UPDATE" not in self.drop_kinds:
            await self.push(account.api_key, self._order_update(account, order, execution))

    async def fire_algo(self, api_key: str, client_algo_id: str) -> dict[str, Any]:
        """The mark price crossed this TP/SL's trigger: it closes the position with a market
        order of its own, told as Binance tells it (ALGO_UPDATE TRIGGERED with the new
        order's id, that order's ORDER_TRADE_UPDATE, ALGO_UPDATE FINISHED)."""
        account = self.accounts[api_key]
        algo = self._find_algo(account, {"clientAlgoId": client_algo_id})
        if algo["algoStatus"] != "NEW":
            raise BinanceError(-2011)
        held = account.held(algo["symbol"], algo["positionSide"])
        params = {
            "symbol": algo["symbol"],
            "side": algo["side"],
            "type": "MARKET",
            "quantity": str(abs(held.amount)),
            "reduceOnly": "true",
        }
        order: dict[str, Any] = await BinanceStub._new_order(self, account, params)
        algo.update(algoStatus="FINISHED", actualOrderId=str(order["orderId"]))
        await self.push(api_key, self._algo_update(algo, "TRIGGERED", order))
        await self._executed(account, order, "TRADE")
        await self.push(api_key, self._algo_update(algo, "FINISHED", order))
        return order

    async def liquidate(self, api_key: str, symbol: str) -> dict[str, Any]:
        """The exchange closes the whole position itself (x=CALCULATED, c=autoclose-...)."""
        account = self.accounts[api_key]
        held = account.held(symbol, "BOTH")
        params = {
            "symbol": symbol,
            "side": "SELL" if held.amount > 0 else "BUY",
            "type": "MARKET",
            "quantity": str(abs(held.amount)),
            "reduceOnly": "true",
            "newClientOrderId": f"autoclose-{secrets.randbelow(10**16)}",
        }
        order: dict[str, Any] = await BinanceStub._new_order(self, account, params)
        await self._executed(account, order, "CALCULATED")
        return order

    async def push(self, api_key: str, message: dict[str, Any]) -> None:
        if self.drop_next.get(api_key):
            self.drop_next[api_key] -= 1
            return
        copies = 2 if self.duplicate_next.get(api_key) else 1
        if copies == 2:
            self.duplicate_next[api_key] -= 1
        text = json.dumps(message)
        for key, socket in list(self._sockets.get(api_key, [])):
            if key not in self.listen_keys or socket.closed:
                continue  # an expired key's stream hears nothing more
            for _ in range(copies):
                await socket.send_str(text)
                self.sent += 1

    # --- listen keys and the WebSocket ---------------------------------------------------

    def _owner(self, request: web.Request) -> str:
        api_key = request.headers.get("X-MBX-APIKEY", "")
        if api_key not in self.accounts:
            raise web.HTTPUnauthorized(
                text=json.dumps({"code": -2015, "msg": "Invalid API-key, IP, or permissions."}),
                content_type="application/json",
            )
        return api_key

    async def _start_stream(self, request: web.Request) -> web.Response:
        api_key = self._owner(request)
        key = next((k for k, owner in self.listen_keys.items() if owner == api_key), None)
        if key is None:  # Binance hands out the live key again while there is one
            key = secrets.token_urlsafe(48)
            self.listen_keys[key] = api_key
        return web.json_response({"listenKey": key})

    async def _keep_alive(self, request: web.Request) -> web.Response:
        api_key = self._owner(request)
        key = next((k for k, owner in self.listen_keys.items() if owner == api_key), None)
        if key is None:
            return web.json_response(
                {"code": -1125, "msg": "This listenKey does not exist."}, status=400
            )
        self.keepalives += 1
        return web.json_response({"listenKey": key})

    async def _close_stream(self, request: web.Request) -> web.Response:
        api_key = self._owner(request)
        for key in [k for k, owner in self.listen_keys.items() if owner == api_key]:
            del self.listen_keys[key]
        return web.json_response({})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        key = request.query.get("listenKey", "")
        api_key = self.listen_keys.get(key)
        if api_key is None:
            raise web.HTTPBadRequest(text="invalid listen key")
        socket = web.WebSocketResponse(heartbeat=None)
        await socket.prepare(request)
        self.connections += 1
        sockets = self._sockets.setdefault(api_key, [])
        sockets.append((key, socket))
        try:
            async for message in socket:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            sockets.remove((key, socket))
        return socket

    # --- event payloads ------------------------------------------------------------------

    def _order_update(
        self, account: StubAccount, order: dict[str, Any], execution: str
    ) -> dict[str, Any]:
        trade = next(t for t in reversed(account.trades) if t["orderId"] == order["orderId"])
        now = _now_ms()
        return {
            "e": "ORDER_TRADE_UPDATE",
            "E": now,
            "T": now,
            "o": {
                "s": order["symbol"],
                "c": order["clientOrderId"],
                "S": order["side"],
                "o": "MARKET",
                "f": "GTC",
                "q": order["origQty"],
                "p": "0",
                "ap": order["avgPrice"],
                "sp": "0",
                "x": execution,
                "X": "FILLED",
                "i": order["orderId"],
                "l": trade["qty"],
                "z": order["executedQty"],
                "L": trade["price"],
                "N": "USDT",
                "n": trade["commission"],
                "T": trade["time"],
                "t": trade["id"],
                "b": "0",
                "a": "0",
                "m": False,
                "R": order["reduceOnly"],
                "wt": "CONTRACT_PRICE",
                "ot": "MARKET",
                "ps": order["positionSide"],
                "cp": False,
                "rp": trade["realizedPnl"],
                "pP": False,
                "si": 0,
                "ss": 0,
                "V": "EXPIRE_MAKER",
                "pm": "NONE",
                "gtd": 0,
            },
        }

    def _account_update(self, account: StubAccount, order: dict[str, Any]) -> dict[str, Any]:
        side = order["positionSide"]
        held = account.held(order["symbol"], side)
        trade = next(t for t in reversed(account.trades) if t["orderId"] == order["orderId"])
        return {
            "e": "ACCOUNT_UPDATE",
            "T": trade["time"],
            "E": trade["time"],
            "a": {
                "m": "ORDER",
                "B": [
                    {"a": "USDT", "wb": str(account.wallet), "cw": str(account.wallet), "bc": "0"}
                ],
                "P": [
                    {
                        "s": order["symbol"],
                        "pa": str(held.amount),
                        "ep": str(held.entry),
                        "cr": "0",
                        "up": "0",
                        "mt": account.margin_type.get(order["symbol"], "cross"),
                        "iw": "0",
                        "ps": side,
                        "ma": "USDT",
                        "bep": str(held.entry),
                    }
                ],
            },
        }

    def _algo_update(
        self, algo: dict[str, Any], status: str, order: dict[str, Any]
    ) -> dict[str, Any]:
        now = _now_ms()
        finished = status == "FINISHED"
        return {
            "e": "ALGO_UPDATE",
            "T": now,
            "E": now,
            "o": {
                "caid": algo["clientAlgoId"],
                "aid": algo["algoId"],
                "at": "CONDITIONAL",
                "o": algo["orderType"],
                "s": algo["symbol"],
                "S": algo["side"],
                "ps": algo["positionSide"],
                "f": "GTC",
                "q": algo["quantity"],
                "X": status,
                "ai": str(order["orderId"]),
                "ap": order["avgPrice"] if finished else "0",
                "aq": order["executedQty"] if finished else "0",
                "act": "MARKET",
                "tp": algo["triggerPrice"],
                "p": "0",
                "V": "EXPIRE_MAKER",
                "wt": algo["workingType"],
                "pm": "NONE",
                "cp": algo["closePosition"],
                "pP": False,
                "R": algo["reduceOnly"],
                "tt": now,
                "gtd": 0,
            },
        }


def _now_ms() -> int:
    return int(time.time() * 1000)


BURST_PATH = "/bench/burst"
STREAMS_PATH = "/bench/streams"


class BenchUserStream(BinanceUserStream):
    """For bench/events.py: `POST /bench/burst?round=R` tells every open stream a TP that
    fired, as Binance tells it (the captured fill sequence in the reference data): the
    ALGO_UPDATE naming the order the TP placed, then that order's TRADE_LITE, the
    ACCOUNT_UPDATE with the position now flat, its ORDER_TRADE_UPDATE, and the ALGO_UPDATE
    that says the TP is finished. Each round's
    order and trade ids are new. `GET /bench/streams`: how many streams are open."""

    def add_routes(self, app: web.Application) -> None:
        super().add_routes(app)
        app.router.add_post(BURST_PATH, self._burst)
        app.router.add_get(STREAMS_PATH, self._open_streams)

    async def _open_streams(self, request: web.Request) -> web.Response:
        return web.json_response({"open": sum(self.streaming(key) for key in self._sockets)})

    async def _burst(self, request: web.Request) -> web.Response:
        sent = 0
        round_number = int(request.query.get("round", "0"))
        for number, api_key in enumerate(list(self._sockets)):
            order_id = 9_000_000_000 + round_number * 1_000_000 + number
            for message in _take_profit_fired(number, order_id, _now_ms()):
                await self.push(api_key, message)
            sent += 1
        return web.json_response({"sent": sent})


def _take_profit_fired(number: int, order_id: int, now: int) -> list[dict[str, Any]]:
    triggered = {"caid": f"mp-bench{number:024d}tp", "X": "TRIGGERED", "ai": str(order_id)}
    return [
        {"e": "ALGO_UPDATE", "T": now, "E": now, "o": triggered},
        {"e": "TRADE_LITE", "E": now, "T": now, "s": "XRPUSDT", "q": "20", "p": "0",
         "m": False, "c": f"bench-{number}", "S": "SELL", "L": "0.62", "l": "20",
         "t": order_id, "i": order_id},
        {"e": "ACCOUNT_UPDATE", "E": now, "T": now,
         "a": {"m": "ORDER",
               "B": [{"a": "USDT", "wb": "1000000.4", "cw": "1000000.4", "bc": "0"}],
               "P": [{"s": "XRPUSDT", "pa": "0", "ep": "0", "cr": "0.4", "up": "0",
                      "mt": "cross", "iw": "0", "ps": "BOTH", "ma": "USDT", "bep": "0"}]}},
        {"e": "ORDER_TRADE_UPDATE", "E": now, "T": now,
         "o": {"s": "XRPUSDT", "c": f"bench-{number}", "S": "SELL", "o": "MARKET",
               "q": "20", "ap": "0.62", "x": "TRADE", "X": "FILLED", "i": order_id,
               "l": "20", "z": "20", "L": "0.62", "N": "USDT", "n": "0.00496", "T": now,
               "t": order_id, "R": True, "ps": "BOTH", "rp": "0.4"}},
        {"e": "ALGO_UPDATE", "T": now, "E": now, "o": {**triggered, "X": "FINISHED"}},
    ]  # fmt: skip


async def _serve(accounts: int) -> None:
    await serve_until_stdin_closes(BenchUserStream(record=False), accounts)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Binance USD-M stub with user data streams")
    parser.add_argument("--accounts", type=int, default=1000)
    asyncio.run(_serve(parser.parse_args().accounts))
