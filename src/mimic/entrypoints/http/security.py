"""Access tokens (JWT, as a bearer header or the web UI's cookie) and the admin guard."""

from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AuthenticationResult
from litestar.openapi.spec import Components, SecurityScheme
from litestar.security.jwt import JWTCookieAuth, JWTCookieAuthenticationMiddleware, Token

from mimic.domain.accounts import User
from mimic.entrypoints.config import Settings
from mimic.ports.repositories import UserRepository

# A request of a signed-in user (every route off PUBLIC_PATHS).
AuthRequest = Request[User, Any, Any]

SESSION_COOKIE = "mimic_session"
TOKEN_VERSION_CLAIM = "ver"  # noqa: S105 (a claim name, not a secret)

PUBLIC_PATHS = [
    "^/health",
    "^/metrics$",  # its own token (MIMIC_METRICS_TOKEN), not a user's
    "^/schema",
    "^/webhook$",
    "^/api/auth/register$",
    "^/api/auth/login$",
    "^/api/auth/password/forgot$",
    "^/api/auth/password/reset$",
    "^/api/payments/plans$",
    # Plisio calls it; trust comes from the signature and the look-up, not from a token.
    "^/api/payments/plisio/callback$",
    "^/api/leaderboard$",
    "^/api/telegram/webhook$",  # Telegram proves itself with the secret-token header
]


async def retrieve_user(
    token: Token, connection: ASGIConnection[Any, Any, Any, Any]
) -> User | None:
    # The request container exists already: dishka wraps the whole ASGI handler. For a
    # WebSocket it is a session container: the users are read in a request scope of it.
    container = connection.state.dishka_container
    if connection.scope["type"] == ScopeType.WEBSOCKET:
        async with container() as request_container:
            return await _signed_in_user(token, await request_container.get(UserRepository))
    return await _signed_in_user(token, await container.get(UserRepository))


async def _signed_in_user(token: Token, users: UserRepository) -> User | None:
    user: User | None = await users.get(token.sub)
    if user is None or not user.active or user.deleted_at is not None:
        return None
    # Sign-out, a password change or reset and a role change raise the version: every
    # token issued before is refused from then on.
    if token.extras.get(TOKEN_VERSION_CLAIM) != user.token_version:
        return None
    return user


def uses_session_cookie(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """The one decision, read by the authentication and the CSRF check alike: an Authorization
    header, even empty or malformed, means bearer and the cookie is ignored."""
    return "authorization" not in connection.headers and SESSION_COOKIE in connection.cookies


class OneCredentialMiddleware(JWTCookieAuthenticationMiddleware):
    """Litestar's cookie auth falls back to the cookie when the header carries no token, so
    a browser request with a junk Authorization header would be cookie-authenticated yet look
    like a bearer request; here the header, when present, is the only credential."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        if uses_session_cookie(connection):
            token = connection.cookies[SESSION_COOKIE]
            return await self.authenticate_token(encoded_token=token, connection=connection)
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("send Authorization: Bearer <access token>")
        return await self.authenticate_token(encoded_token=token.strip(), connection=connection)


BEARER_SCHEME = "BearerToken"
COOKIE_SCHEME = "SessionCookie"


class BearerOrCookieAuth(JWTCookieAuth[User, Token]):
    """Litestar documents its cookie auth as one http-bearer scheme "in: cookie", which no
    client can use; the document states the two credentials a request may carry instead,
    either of which is enough."""

    @property
    def openapi_components(self) -> Components:
        return Components(
            security_schemes={
                BEARER_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="The access_token from POST /api/auth/login",
                ),
                COOKIE_SCHEME: SecurityScheme(
                    type="apiKey",
                    name=self.key,
                    security_scheme_in="cookie",
                    description="The web UI's session cookie, set by POST /api/auth/login; "
                    "a state-changing request also sends the mimic_csrf cookie's value in "
                    "X-CSRF-Token",
                ),
            }
        )

    @property
    def security_requirement(self) -> dict[str, list[str]]:
        return {BEARER_SCHEME: []}

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config = super().on_app_init(app_config)
        if app_config.openapi_config and isinstance(app_config.openapi_config.security, list):
            app_config.openapi_config.security.append({COOKIE_SCHEME: []})
        return app_config


def make_jwt_auth(settings: Settings) -> JWTCookieAuth[User, Token]:
    """Reads `Authorization: Bearer` when the header is sent, else the web UI's cookie."""
    return BearerOrCookieAuth(
        authentication_middleware_class=OneCredentialMiddleware,
        retrieve_user_handler=retrieve_user,
        token_secret=settings.jwt_secret,
        default_token_expiration=timedelta(minutes=settings.access_token_minutes),
        exclude=PUBLIC_PATHS,
        key=SESSION_COOKIE,
        samesite="strict",
        secure=settings.https if settings.cookie_secure is None else settings.cookie_secure,
    )


def issue_token(auth: JWTCookieAuth[User, Token], user: User) -> str:
    return auth.create_token(
        identifier=user.id, token_extras={TOKEN_VERSION_CLAIM: user.token_version}
    )


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    # The automatic OPTIONS answer says only which methods exist, and the authentication
    # middleware does not read credentials for OPTIONS: refusing it would always say 401.
    if getattr(handler, "http_methods", None) == {"OPTIONS"}:
        return
    user = connection.scope.get("user")
    if not isinstance(user, User):
        raise NotAuthorizedException("sign in first")
    if not user.is_admin:
        raise PermissionDeniedException("this needs the admin role")
