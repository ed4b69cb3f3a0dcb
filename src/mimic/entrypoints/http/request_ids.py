"""Every request gets an id: the caller's `X-Request-ID` when it is a sane one, else a
new one. It is on every log line the request causes (and the worker's, for a signal) and
comes back in the response's `X-Request-ID`."""

import re
import uuid

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from mimic.application import work_context

REQUEST_ID_HEADER = "x-request-id"
# A proxy's id is kept only if it cannot smuggle anything into a log line.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in (ScopeType.HTTP, ScopeType.WEBSOCKET):
            await app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        work_context.handling_request(request_id)
        if scope["type"] == ScopeType.WEBSOCKET:  # no response headers: every send as it is
            await app(scope, receive, send)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await app(scope, receive, send_with_id)

    return middleware
