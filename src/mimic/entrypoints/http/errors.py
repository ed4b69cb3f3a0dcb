"""Domain errors become Litestar's error shape: {"status_code", "detail", ...}."""

import logging
import uuid
from typing import Any

from litestar import Request, Response
from litestar.exceptions import ValidationException

from mimic.application import work_context
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

log = logging.getLogger("mimic.http")

REQUEST_ID_HEADER = "X-Request-ID"

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


def validation_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Well-formed input of the wrong shape (a type, a range, an unknown or missing field) is
    a 422 like our own rules' refusals; 400 stays for input that cannot be read at all."""
    extra = getattr(exc, "extra", None)
    detail = exc.detail if isinstance(exc, ValidationException) else str(exc)
    body = error_body(422, detail, **({"extra": extra} if extra else {}))
    return Response(body, status_code=422)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every 500 leaves a traceback in the log under an id the caller can quote: the
    request's own id, the one its other log lines and the response header carry."""
    request_id = work_context.request_id() or uuid.uuid4().hex
    log.error(
        "unhandled error on %s %s, request id %s",
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
    )
    return Response(
        error_body(500, f"internal error (request id {request_id})", request_id=request_id),
        status_code=500,
        headers={REQUEST_ID_HEADER: request_id},
    )


def too_deeply_nested_handler(_: Request[Any, Any, Any], __: Exception) -> Response[Any]:
    """Absurdly nested JSON exhausts the decoder's recursion: bad input, not our failure."""
    return Response(error_body(400, "the request body is nested too deeply"), status_code=400)
