"""Browser-facing protections: security headers, CSRF for cookie sessions, client IPs."""

import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from mimic.application.audit_trail import RequestContext
from mimic.domain.accounts import User
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.security import SESSION_COOKIE, uses_session_cookie

if TYPE_CHECKING:
    from litestar.types import HTTPScope

CSRF_COOKIE = "mimic_csrf"
CSRF_HEADER = "x-csrf-token"
# Machine-to-machine callers, and the doors used before a session exists.
CSRF_EXEMPT = frozenset(
    {
        "/webhook",
        "/api/payments/plisio/callback",
        "/api/auth/login",
        "/api/auth/register",
        "/api/auth/password/forgot",
        "/api/auth/password/reset",
    }
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CSRF_REFUSED = (
    b'{"status_code":403,"detail":"missing or wrong CSRF token: send the mimic_csrf '
    b'cookie value in the X-CSRF-Token header"}'
)

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The OpenAPI viewers load their scripts and styles from a CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
    "https://unpkg.com; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
    "https://unpkg.com https://fonts.googleapis.com; font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https:; frame-ancestors 'none'"
)


def security_headers(settings: Settings) -> Callable[[Message, Scope], Awaitable[None]]:
    """A before-send hook: every response gets the headers, 404s and auth errors included."""

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        docs = scope["path"].startswith("/schema")
        headers["Content-Security-Policy"] = DOCS_CSP if docs else API_CSP
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if settings.https or scope.get("scheme") == "https":
            headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"

    return add_headers


def csrf_middleware(app: ASGIApp) -> ASGIApp:
    """Double-submit check for state changes authenticated by the session cookie.

    A bearer token is never sent by a browser on its own, so requests the authentication
    reads as bearer (any Authorization header: the cookie is then ignored) need no CSRF token.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and _needs_csrf_check(scope):
            connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
            expected = connection.cookies.get(CSRF_COOKIE, "")
            given = connection.headers.get(CSRF_HEADER, "")
            if not expected or not secrets.compare_digest(expected, given):
                refusal = ASGIResponse(
                    body=_CSRF_REFUSED, status_code=403, media_type="application/json"
                )
                await refusal(scope, receive, send)
                return
        await app(scope, receive, send)

    return middleware


def _needs_csrf_check(scope: "HTTPScope") -> bool:
    if scope["method"] in SAFE_METHODS or scope["path"] in CSRF_EXEMPT:
        return False
    return uses_session_cookie(ASGIConnection(scope))


def client_ip(connection: ASGIConnection[Any, Any, Any, Any], trusted: tuple[str, ...]) -> str:
    """The peer's address; X-Forwarded-For only when the peer is a configured proxy, and
    then the rightmost address that is not one of our proxies (what our proxy saw)."""
    peer = connection.client.host if connection.client else "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    forwarded = connection.headers.get("x-forwarded-for", "")
    for hop in reversed([hop.strip() for hop in forwarded.split(",")]):
        if not _is_ip(hop):
            break  # garbage: believe nothing further left
        if not _is_trusted(hop, trusted):
            return hop
    return peer


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    return address_in(address, trusted)


def address_in(address: str, networks: tuple[str, ...]) -> bool:
    """Whether `address` is one of `networks` (IPs or CIDR networks); False if not an IP."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in networks)


def request_context(request: Request[Any, Any, Any], settings: Settings) -> RequestContext:
    user = request.scope.get("user")
    return RequestContext(
        actor_id=user.id if isinstance(user, User) else None,
        ip=client_ip(request, settings.trusted_proxies),
    )


def session_cookies(token: str, settings: Settings) -> list[Cookie]:
    """The web UI's session: an HttpOnly token cookie and a CSRF cookie its script reads."""
    secure = settings.https if settings.cookie_secure is None else settings.cookie_secure
    max_age = settings.access_token_minutes * 60
    return [
        Cookie(
            key=SESSION_COOKIE,
            value=token,
            max_age=max_age,
            httponly=True,
            secure=secure,
            samesite="strict",
            path="/",
        ),
        Cookie(
            key=CSRF_COOKIE,
            value=secrets.token_urlsafe(32),
            max_age=max_age,
            httponly=False,
            secure=secure,
            samesite="strict",
            path="/",
        ),
    ]


def cleared_session_cookies() -> list[Cookie]:
    return [
        Cookie(key=name, value="", max_age=0, expires=0, path="/")
        for name in (SESSION_COOKIE, CSRF_COOKIE)
    ]
