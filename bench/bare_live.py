"""The floor of bench/live_push.py: a Litestar app that only holds WebSockets and, when
asked, sends each one its own event (no auth, no database, no channel lookup), stamped with
the moment it starts sending as Mimic stamps its events when it publishes them."""

import asyncio
import time
from typing import Any

import msgspec
from litestar import Litestar, WebSocket, post, websocket
from litestar.exceptions import WebSocketDisconnect

SOCKETS: set[WebSocket[Any, Any, Any]] = set()


@websocket("/live")
async def live(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    SOCKETS.add(socket)
    try:
        while True:
            await socket.receive_data(mode="text")
    except WebSocketDisconnect:
        SOCKETS.discard(socket)


@post("/broadcast", status_code=202)
async def broadcast(data: dict[str, Any]) -> dict[str, int]:
    """`data["event"]`: {"kind", "data"}; each page gets it with its own `intent_id`, encoded
    for it, as each of Mimic's pages gets its own order's event."""
    at = round(time.time(), 6)
    kind, fields = data["event"]["kind"], data["event"]["data"]
    encode = msgspec.json.Encoder().encode  # as Mimic encodes its events
    messages = [
        encode({"kind": kind, "data": {**fields, "intent_id": f"{n:032x}"}, "at": at})
        for n in range(len(SOCKETS))
    ]
    await asyncio.gather(
        *(socket.send_text(m) for socket, m in zip(list(SOCKETS), messages, strict=True))
    )
    return {"sent": len(messages)}


app = Litestar(route_handlers=[live, broadcast])
