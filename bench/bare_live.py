"""The floor of bench/live_push.py: a Litestar app that only holds WebSockets and sends each
one the same message when asked (no auth, no channels, no database)."""

import asyncio
from typing import Any

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
    message = data["message"]
    await asyncio.gather(*(socket.send_text(message) for socket in list(SOCKETS)))
    return {"sent": len(SOCKETS)}


app = Litestar(route_handlers=[live, broadcast])
