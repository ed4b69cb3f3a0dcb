"""Domain errors become Litestar's error shape: {"status_code", "detail", ...}."""

from typing import Any

from litestar import Request, Response

from mimic.domain.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    InvalidField,
    NotFound,
    PaymentProviderError,
    PaymentsNotConfigured,
    PermissionDenied,
    TooManyRequests,
)

_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidField, 422),
    (AuthenticationFailed, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TooManyRequests, 429),
    (PaymentProviderError, 502),
    (PaymentsNotConfigured, 503),
)


def error_body(status_code: int, detail: str, **extra: Any) -> dict[str, Any]:
    return {"status_code": status_code, "detail": detail, **extra}


def domain_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
    extra: dict[str, Any] = {"field": exc.field} if isinstance(exc, InvalidField) else {}
    headers = {}
    if isinstance(exc, TooManyRequests):
        extra["retry_after"] = exc.retry_after_seconds
        headers["Retry-After"] = str(exc.retry_after_seconds)
    return Response(error_body(status, str(exc), **extra), status_code=status, headers=headers)
