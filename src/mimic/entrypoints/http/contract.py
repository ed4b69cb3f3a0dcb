"""The OpenAPI document as the truth of the HTTP contract (docs/api-contract.md).

Every route documents the error statuses it can answer with the one shared error body, and
the security it really has. What holds for whole classes of routes is added here, once, by
`document_contract` (401 off the public list, 403 behind the admin guard or the CSRF check,
404 on a path with an id, 413 on a body, 400 and 422 on input); what a single route adds
(409, 429, 503, ...) it says itself with `responses=errors(...)`.
"""

import re
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Operation
from litestar.routes import HTTPRoute

from mimic.entrypoints.http.security import PUBLIC_PATHS, admin_only
from mimic.entrypoints.http.web_security import CSRF_EXEMPT, SAFE_METHODS


class ValidationProblem(msgspec.Struct):
    message: str
    key: str | msgspec.UnsetType = msgspec.UNSET
    source: str | msgspec.UnsetType = msgspec.UNSET


class ErrorBody(msgspec.Struct):
    """Every 4xx and 5xx: Litestar's error shape, with what the caller needs to act."""

    status_code: int
    detail: str
    # 422 from a rule of ours: the field at fault (dotted: "trailing.callback_perc").
    field: str | msgspec.UnsetType = msgspec.UNSET
    # 422 from the request's shape: one entry per field at fault.
    extra: list[ValidationProblem] | msgspec.UnsetType = msgspec.UNSET
    # 429: seconds to wait (the Retry-After header says the same).
    retry_after: int | msgspec.UnsetType = msgspec.UNSET
    # 500: the id of the log lines holding the traceback.
    request_id: str | msgspec.UnsetType = msgspec.UNSET


MEANINGS = {
    400: "Malformed request: not JSON, nested too deeply, or a NUL character in the input",
    401: "No valid credential: sign in and send Authorization: Bearer <access token>",
    403: "Not allowed: the admin role is needed, the CSRF token is missing, or a rule refuses",
    404: "No such resource (or not yours)",
    409: "Conflicts with the current state (a duplicate, or a state that does not allow it)",
    413: "The request body is too large",
    422: "Invalid input: the body, a parameter or a rule refused a value (field named)",
    429: "Too many requests: wait Retry-After seconds",
    502: "The payment provider failed",
    503: "A dependency (database, Redis, payment provider) is unavailable: retry later",
}


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """`responses=errors(409, 429)`: the statuses a route answers besides the ones every
    route of its kind gets from `document_contract`."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody, description=MEANINGS[status], generate_examples=False
        )
        for status in statuses
    }


_PUBLIC = re.compile("|".join(PUBLIC_PATHS))


def is_public(path: str) -> bool:
    """The authentication middleware's own exclusions decide, so the two cannot drift."""
    return _PUBLIC.match(path) is not None


_NOT_QUERY_PARAMETERS = frozenset({"self", "request", "data", "scope", "headers", "state"})


def _class_statuses(route: HTTPRoute, handler: HTTPRouteHandler) -> set[int]:
    statuses = {400}  # a NUL in the path or query string is refused on every route
    public = is_public(route.path)
    if not public:
        statuses.add(401)
    admin = any(admin_only in (layer.guards or ()) for layer in handler.ownership_layers)
    state_changing = not handler.http_methods <= SAFE_METHODS
    if admin or (not public and state_changing and route.path not in CSRF_EXEMPT):
        statuses.add(403)
    if route.path_parameters:
        statuses.add(404)
    signature = handler.parsed_fn_signature.parameters
    if "data" in signature:
        statuses |= {413, 422}
    elif "request" in signature and state_changing:
        statuses.add(413)  # every body is read (for NUL characters) even if it is not used
    query = signature.keys() - _NOT_QUERY_PARAMETERS - route.path_parameters.keys()
    if query:
        statuses.add(422)  # dishka's injections are not in the signature
    return statuses


def _publicly_readable(operation_class: type[Operation]) -> type[Operation]:
    """Litestar drops an empty security list, which would leave the document-wide bearer
    requirement on the route; `security: []` says "no credential needed"."""

    @dataclass
    class PublicOperation(operation_class):  # type: ignore[valid-type,misc]
        public_route = True

        def __post_init__(self) -> None:
            parent = getattr(super(), "__post_init__", None)
            if parent is not None:
                parent()
            self.security: list[dict[str, list[str]]] = []

    return PublicOperation


def _options_answer_every_method(route: HTTPRoute) -> None:
    """Litestar 2 builds a path's automatic OPTIONS handler for the route as first
    registered and keeps it when later handlers of the same path are merged into a new
    route, so `Allow` lacked their methods (OPTIONS /api/exchanges said no GET). The
    handler reads the route it closes over; it is pointed at the final route."""
    handler, _ = route.route_handler_map.get("OPTIONS", (None, None))
    cells = getattr(getattr(handler, "fn", None), "__closure__", None) or ()
    for cell in cells:
        if isinstance(cell.cell_contents, HTTPRoute):
            cell.cell_contents = route


def document_contract(app: Litestar) -> None:
    """Run once on the built app, before the document is first generated."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        _options_answer_every_method(route)
        for handler in route.route_handlers:
            if not handler.include_in_schema:
                continue
            own: dict[int, Any] = dict(handler.responses or {})
            handler.responses = {**errors(*sorted(_class_statuses(route, handler))), **own}
            marked = getattr(handler.operation_class, "public_route", False)
            if is_public(route.path) and not marked:
                handler.operation_class = _publicly_readable(handler.operation_class)
