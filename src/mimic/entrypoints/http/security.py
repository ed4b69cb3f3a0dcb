"""Bearer tokens (JWT) and the admin guard."""

from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import JWTAuth, Token

from mimic.domain.accounts import User
from mimic.entrypoints.config import Settings
from mimic.ports.repositories import UserRepository

PUBLIC_PATHS = [
    "^/health",
    "^/schema",
    "^/webhook$",
    "^/api/auth/register$",
    "^/api/auth/login$",
    "^/api/payments/plans$",
    # Plisio calls it; trust comes from the signature and the look-up, not from a token.
    "^/api/payments/plisio/callback$",
]


async def retrieve_user(
    token: Token, connection: ASGIConnection[Any, Any, Any, Any]
) -> User | None:
    # The request container exists already: dishka wraps the whole ASGI handler.
    users = await connection.state.dishka_container.get(UserRepository)
    user: User | None = await users.get(token.sub)
    return user if user is not None and user.active else None


def make_jwt_auth(settings: Settings) -> JWTAuth[User, Token]:
    return JWTAuth[User, Token](
        retrieve_user_handler=retrieve_user,
        token_secret=settings.jwt_secret,
        default_token_expiration=timedelta(minutes=settings.access_token_minutes),
        exclude=PUBLIC_PATHS,
    )


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    user = connection.scope.get("user")
    if not isinstance(user, User):
        raise NotAuthorizedException("sign in first")
    if not user.is_admin:
        raise PermissionDeniedException("this needs the admin role")
