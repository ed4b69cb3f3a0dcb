"""Checks every request's input before a handler sees it.

NUL characters are refused: Postgres cannot store U+0000 in text, so one would surface deep
in a transaction as a 500; no legitimate username, email, id or search contains one.

JSON bodies are decoded strictly against the route's schema: Litestar converts them leniently
(`0` would pass as `false`, `"5"` as 5), which is not what the OpenAPI document promises.
"""

import functools
import re
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, ValidationException

# A JSON "\u0000" escape whose backslash is not itself escaped (an odd run of backslashes).
_JSON_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_URL_ENCODED_NUL = b"%00"
_NUL_REFUSED = "text input must not contain NUL (U+0000) characters"


async def check_input(request: Request[Any, Any, Any]) -> None:
    """The before-request hook."""
    await refuse_nul_bytes(request)
    await decode_json_body_strictly(request)


async def refuse_nul_bytes(request: Request[Any, Any, Any]) -> None:
    """A before-request hook: path, query string and body (JSON, form or raw)."""
    if "\x00" in request.scope["path"] or _URL_ENCODED_NUL in request.scope["query_string"]:
        raise HTTPException(status_code=400, detail=_NUL_REFUSED)
    body = await request.body()  # cached: the handler reads the same bytes
    form = request.content_type[0] == RequestEncodingType.URL_ENCODED
    if (
        b"\x00" in body
        or (form and _URL_ENCODED_NUL in body)
        # The plain search first: the pattern's look-behind tries every byte of the body.
        or (b"\\u0000" in body and _JSON_NUL_ESCAPE.search(body) is not None)
    ):
        raise HTTPException(status_code=400, detail=_NUL_REFUSED)


_NOT_JSON = frozenset({RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART})


async def decode_json_body_strictly(request: Request[Any, Any, Any]) -> None:
    """A wrong type is a 422 naming the field, in Litestar's own validation shape."""
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None or request.content_type[0] in _NOT_JSON:
        return
    body = await request.body()
    if not body:
        return
    try:
        _strict_decoder(data.annotation).decode(body)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$")
        problem: dict[str, str] = {"message": message, "source": "body"}
        if where:
            problem["key"] = where.rstrip("`").lstrip(".") or "data"
        raise ValidationException(
            detail=f"Validation failed for {request.method} {request.url.path}",
            extra=[problem],
        ) from None
    except msgspec.DecodeError:
        return  # not JSON at all: Litestar's own decoding answers it


@functools.cache
def _strict_decoder(annotation: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(annotation, strict=True)
