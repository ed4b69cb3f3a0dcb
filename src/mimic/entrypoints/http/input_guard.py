"""Refuses NUL characters in any text input before a handler sees it.

Postgres cannot store U+0000 in text, so one would surface deep in a transaction as a 500;
no legitimate username, email, id or search contains one.
"""

import re
from typing import Any

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException

# A JSON "\u0000" escape whose backslash is not itself escaped (an odd run of backslashes).
_JSON_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_URL_ENCODED_NUL = b"%00"
_NUL_REFUSED = "text input must not contain NUL (U+0000) characters"


async def refuse_nul_bytes(request: Request[Any, Any, Any]) -> None:
    """A before-request hook: path, query string and body (JSON, form or raw)."""
    if "\x00" in request.scope["path"] or _URL_ENCODED_NUL in request.scope["query_string"]:
        raise HTTPException(status_code=400, detail=_NUL_REFUSED)
    body = await request.body()  # cached: the handler reads the same bytes
    form = request.content_type[0] == RequestEncodingType.URL_ENCODED
    if (
        b"\x00" in body
        or (form and _URL_ENCODED_NUL in body)
        or _JSON_NUL_ESCAPE.search(body) is not None
    ):
        raise HTTPException(status_code=400, detail=_NUL_REFUSED)
