"""Plisio's callback on the wire: its JSON, its signature, and what it claims.

Plisio posts JSON when the callback URL ends in `?json=true` (Mimic's always does) and signs
it with HMAC-SHA1 under the API key: the JSON without `verify_hash`, keys in the order sent,
compact separators. Plisio's own examples disagree on text outside ASCII: its Python SDK
escapes it (`\\u00e9`), its Node example signs raw UTF-8. Both are accepted. The message is
rebuilt from the body's own text, numbers as sent (`29.00` stays `29.00`), and every
candidate is compared in constant time.

Form-encoded callbacks (a URL without `?json=true`, signed over PHP's `serialize`) are
refused with that reason, audited like any other refusal: Mimic never asks for them.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from mimic.adapters.plisio.statuses import invoice_status
from mimic.domain.errors import CallbackRefused
from mimic.ports.payments import PaymentCallback


class _Number(str):
    """A JSON number kept as the text it was sent as."""

    __slots__ = ()


def read_callback(body: bytes, content_type: str, api_key: str) -> PaymentCallback:
    """The callback, if its signature proves it; else `CallbackRefused` saying why."""
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        raise CallbackRefused(
            "verify_hash",
            "form-encoded callbacks are refused: Plisio must post JSON (a callback URL "
            "ending in ?json=true, as Mimic sets on every invoice)",
        )
    fields = _decode(body)
    if fields is None:
        raise CallbackRefused("verify_hash", "is missing: the body is not a JSON object")
    claims = {name: _text(fields.get(name)) for name in ("order_number", "txn_id", "status")}
    order_number, txn_id, status = claims.values()
    given = fields.get("verify_hash")
    if not isinstance(given, str) or not given:
        raise CallbackRefused("verify_hash", "is missing: the callback is not signed", **claims)
    # Every candidate is computed and compared, so the time taken tells nothing.
    matches = [
        hmac.compare_digest(given.encode(), signature.encode())
        for signature in signatures(fields, api_key)
    ]
    if not any(matches):
        raise CallbackRefused("verify_hash", "does not match the callback's contents", **claims)
    if order_number is None or txn_id is None or status is None:
        missing = next(name for name, value in claims.items() if value is None)
        raise CallbackRefused(missing, "is missing from the callback", **claims)
    return PaymentCallback(
        order_number=order_number,
        txn_id=txn_id,
        status=status,
        invoice_status=invoice_status(status),
    )


def signatures(fields: Mapping[str, Any], api_key: str) -> tuple[str, str]:
    """(non-ASCII escaped, as Plisio's Python SDK signs; raw UTF-8, as its Node example)."""
    rest = {key: value for key, value in fields.items() if key != "verify_hash"}
    return (
        _hmac(api_key, _dump(rest, ascii_only=True)),
        _hmac(api_key, _dump(rest, ascii_only=False)),
    )


def _hmac(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha1).hexdigest()


def _decode(body: bytes) -> dict[str, Any] | None:
    try:
        fields = json.loads(body, parse_float=_Number, parse_int=_Number)
    except ValueError:
        return None
    return fields if isinstance(fields, dict) else None


def _dump(value: Any, *, ascii_only: bool) -> str:
    """Compact JSON with numbers written as they were received."""
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, dict):
        members = (
            f"{json.dumps(key, ensure_ascii=ascii_only)}:{_dump(item, ascii_only=ascii_only)}"
            for key, item in value.items()
        )
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(item, ascii_only=ascii_only) for item in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def _text(value: object) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
        return str(value)
    return None
