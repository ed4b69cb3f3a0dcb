"""One WebSocket per open page: the signed-in user's events, and the platform's for admins."""

from typing import Any

from litestar import WebSocket, websocket
from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
    WebSocketDisconnect,
)
from litestar.handlers import WebsocketRouteHandler

from mimic.domain.accounts import User
from mimic.ports.live_events import ADMINS, LivePages, user_audience
from mimic.ports.metrics import Metrics


def audiences_of(user: User) -> list[str]:
    return [user_audience(user.id), *([ADMINS] if user.is_admin else [])]


def _same_origin(socket: WebSocket[Any, Any, Any]) -> bool:
    """Refuses cross-site WebSocket hijacking: a browser always sends the page's Origin."""
    origin = socket.headers.get("origin")
    if origin is None:  # not a browser: the session cookie is what it proves itself with
        return True
    host = socket.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def live_route(pages: LivePages) -> WebsocketRouteHandler:
    """`/live`: signed in by the session cookie (the auth middleware sets the user)."""

    @websocket("/live")
    async def live_events(socket: WebSocket[Any, Any, Any]) -> None:
        user = socket.scope.get("user")
        if not isinstance(user, User):
            raise NotAuthorizedException("sign in first")
        if not _same_origin(socket):
            raise PermissionDeniedException("the page is not from this site")
        metrics = await socket.app.state.dishka_container.get(Metrics)
        await socket.accept()
        metrics.dashboard_connections_changed(+1)
        try:
            async with pages.page(audiences_of(user), socket.send_data):
                try:
                    while True:  # the page sends nothing; this only notices it going away
                        await socket.receive_data(mode="text")
                except WebSocketDisconnect:
                    return
        finally:
            metrics.dashboard_connections_changed(-1)

    return live_events
