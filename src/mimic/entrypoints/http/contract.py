"""The OpenAPI document as the truth of the HTTP contract (docs/api-contract.md).

Every route documents the error statuses it can answer with the one shared error body, and
the security it really has. What holds for whole classes of routes is added here, once, by
`document_contract` (401 off the public list, 403 behind the admin guard or the CSRF check,
404 on a path with an id, 413 on a body, 400 and 422 on input); what a single route adds
(409, 429, 503, ...) it says itself with `responses=errors(...)`.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Litestar
from litestar._openapi.schema_generation import SchemaCreator
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    Example,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import Parameter, ParameterKwarg
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_204_NO_CONTENT
from litestar.typing import FieldDefinition

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


# A page's start, for the routes that page through a list.
Offset = Annotated[int, Parameter(ge=0, le=1_000_000)]


def iso(moment: datetime | None) -> str | None:
    """A timestamp on the wire: ISO 8601, or null."""
    return None if moment is None else moment.isoformat()


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """`responses=errors(409, 429)`: the statuses a route answers besides the ones every
    route of its kind gets from `document_contract`."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody, description=MEANINGS[status], generate_examples=False
        )
        for status in statuses
    }


# A text field the server strips and refuses when nothing is left (msgspec searches).
NOT_BLANK = r"\S"

# What msgspec reads as a Decimal from a JSON string; a JSON number is read as well.
DECIMAL_PATTERN = r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$"


def _decimal_schema() -> Schema:
    return Schema(
        type=[OpenAPIType.STRING, OpenAPIType.NUMBER],
        pattern=DECIMAL_PATTERN,
        description='A decimal; money and quantities travel as JSON strings ("0.015")',
    )


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """Two things Litestar's struct schemas leave out: `forbid_unknown_fields` (the document
    allowed fields the server refuses: such a struct says `additionalProperties: false`) and
    what a Decimal field accepts (any string, it said: it is a decimal in a string)."""

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if not isinstance(info, msgspec.inspect.StructType):
            return schema
        if info.forbid_unknown_fields:
            schema.additional_properties = False
        for field in info.fields:
            prop = (schema.properties or {}).get(field.encode_name)
            if isinstance(prop, Schema) and _holds_decimal(field.type):
                _describe_decimal(prop)
        return schema


def _holds_decimal(kind: msgspec.inspect.Type) -> bool:
    if isinstance(kind, msgspec.inspect.Metadata):
        return _holds_decimal(kind.type)
    if isinstance(kind, msgspec.inspect.UnionType):
        return any(_holds_decimal(member) for member in kind.types)
    return isinstance(kind, msgspec.inspect.DecimalType)


def _describe_decimal(prop: Schema) -> None:
    """The string branch of the property (alone or beside null) is the decimal."""
    branches = list(prop.one_of or [prop])
    for index, branch in enumerate(branches):
        if isinstance(branch, Schema) and branch.type == OpenAPIType.STRING:
            if branch is prop:
                prop.type, prop.pattern = _decimal_schema().type, DECIMAL_PATTERN
                prop.description = prop.description or _decimal_schema().description
            else:
                branches[index] = _decimal_schema()
    if prop.one_of:
        prop.one_of = branches


NOTHING_FOLLOWS = ResponseSpec(data_container=None, description="Done; no body follows")

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


def read_raw_body(description: str, content: dict[str, OpenAPIMediaType]) -> type[Operation]:
    """`operation_class=read_raw_body(...)` for a route that parses its body itself (the
    signature covers the raw bytes, or several formats are read), which Litestar cannot see."""

    @dataclass
    class RawBodyOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(content=content, description=description, required=True)

    return RawBodyOperation


def parsed_query(*, required: bool = False, **schema: Any) -> ParameterKwarg:
    """`Annotated[str | None, parsed_query(type=OpenAPIType.INTEGER, minimum=1)]`: a query
    parameter the route reads as text and parses itself; the document states what it takes."""
    kwarg: ParameterKwarg = Parameter(required=required, schema_extra={"one_of": None, **schema})
    return kwarg


# A list filtered to one signal source: 422 naming `source` for an id that is no source.
SourceQuery = Annotated[
    str | None, parsed_query(type=OpenAPIType.STRING, description="a signal source's id")
]


def any_case(*words: str) -> str:
    """A pattern matching the words whatever their case (the server lower-cases them)."""
    spelled = ("".join(f"[{c.lower()}{c.upper()}]" for c in word) for word in words)
    return "^(" + "|".join(spelled) + ")$"


def _text(**extra: Any) -> Schema:
    return Schema(type=OpenAPIType.STRING, **extra)


_ALERT_EXAMPLE = {
    "passphrase": "<passphrase>",
    "symbol": "{{ticker}}",
    "action": "{{strategy.order.action}}",
    "market_position": "{{strategy.market_position}}",
}
# OctoBot's lines: KEY=VALUE pairs, separated by ";" or line breaks (empty ones are skipped);
# a value runs to the end of its pair, a ";" or anything str.splitlines() breaks at.
_VALUE = r"[^;\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*"
_PAIR = r"[A-Za-z_]+[ \t]*=" + _VALUE
_KEY_VALUE_LINES = rf"^[\s;]*{_PAIR}([ \t]*[;\n][\s;]*{_PAIR})*[\s;]*$"
# Every dialect of docs/ and domain/alerts.py; what they mean is the table there.
WEBHOOK_BODY = read_raw_body(
    "A TradingView alert: a JSON object in any supported dialect (sent as application/json "
    "or, as TradingView does, text/plain), or OctoBot's KEY=VALUE lines",
    {
        "application/json": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                required=["passphrase"],
                properties={
                    "passphrase": _text(),
                    **{key: _text() for key in ("symbol", "ticker")},
                    **{
                        key: _text(description="buy, sell, long, short, close, flat or exit")
                        for key in ("action", "order_action", "side", "direction", "signal")
                    },
                    "market_position": _text(description="long, short or flat"),
                    "prev_market_position": _text(),
                    "position_size": _decimal_schema(),
                    "strategy": Schema(
                        type=OpenAPIType.OBJECT,
                        description="TradingView's strategy placeholders, nested",
                    ),
                    "risk_perc": _decimal_schema(),
                    "leverage": Schema(type=OpenAPIType.INTEGER),
                    "tp_perc": _decimal_schema(),
                    "sl_perc": _decimal_schema(),
                    "id": _text(description="the alert's own id: a repeat is a duplicate"),
                },
            ),
            examples={"tradingview": Example(value=_ALERT_EXAMPLE)},
        ),
        "text/plain": OpenAPIMediaType(
            schema=_text(pattern=_KEY_VALUE_LINES),
            examples={
                "octobot": Example(
                    value="EXCHANGE=binance\nSYMBOL=BTCUSDT\nSIGNAL=BUY\nPASSPHRASE=<passphrase>"
                )
            },
        ),
    },
)


_NAMED_FILE = Schema(
    type=OpenAPIType.OBJECT,
    required=["name", "content"],
    properties={"name": _text(), "content": _text(description="the file's text")},
)
PLISIO_CALLBACK_BODY = read_raw_body(
    "Plisio's status callback (json=true), signed with verify_hash over the body's own text",
    {
        "application/json": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                required=["verify_hash", "txn_id", "order_number", "status"],
                properties={
                    "verify_hash": _text(),
                    "txn_id": _text(),
                    "order_number": _text(),
                    "status": _text(description="new, pending, completed, expired, ..."),
                },
            )
        )
    },
)
LAB_UPLOAD_BODY = read_raw_body(
    "A lab run's inputs, checked at once (422 naming the field)",
    {
        "application/json": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                required=["candles", "alerts"],
                properties={
                    "candles": Schema(type=OpenAPIType.ARRAY, items=_NAMED_FILE),
                    "alerts": _NAMED_FILE,
                    "followers": Schema(type=OpenAPIType.ARRAY, items=Schema()),
                    "fee_bps": _decimal_schema(),
                    "slippage_bps": _decimal_schema(),
                    "master_equity": _decimal_schema(),
                },
            )
        )
    },
)


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
            if handler.status_code == HTTP_204_NO_CONTENT:
                # A handler returning Response[None] would be documented as a JSON null.
                own.setdefault(HTTP_204_NO_CONTENT, NOTHING_FOLLOWS)
            handler.responses = {**errors(*sorted(_class_statuses(route, handler))), **own}
            marked = getattr(handler.operation_class, "public_route", False)
            if is_public(route.path) and not marked:
                handler.operation_class = _publicly_readable(handler.operation_class)
