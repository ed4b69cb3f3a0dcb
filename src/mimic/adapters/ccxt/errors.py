"""Every ccxt exception becomes a domain `ExchangeError`, with the exchange's words kept.

Binance answers errors as `{"code": -2019, "msg": "Margin is insufficient."}`; ccxt puts
that body in its exception message. The code decides the domain error (it is more precise
than ccxt's class, and it works whatever host the client talks to); ccxt's class decides
for exchanges without such codes.

Whether a failure may have executed matters only for writes that create orders: a
timeout, a 5xx or -1007 there is `OutcomeUnknown` (the caller looks the order up by its
client id before anything is resent); the same failure of a read or of an idempotent
setting is `ExchangeUnavailable`. On an order, whatever does not prove a refusal (a
network error, a timeout, an exception ccxt did not wrap) is `OutcomeUnknown`.
"""

import enum
import json
import re
from typing import Any

import ccxt.async_support as ccxt

from mimic.domain.errors import (
    AuthRejected,
    BelowMinNotional,
    DuplicateClientOrderId,
    ExchangeError,
    ExchangeUnavailable,
    InsufficientMargin,
    InvalidPrecision,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    ReduceOnlyRejected,
    UnknownSymbol,
)

_BODY = re.compile(r"\{.*\}", re.DOTALL)
# Signed GET/DELETE URLs carry timestamp and signature: noise in a follower's reason.
_QUERY = re.compile(r"\?\S*")
DEFAULT_RETRY_AFTER = 1.0


class Call(enum.Enum):
    """What kind of request failed; decides what an unknown outcome means."""

    READ = "read"
    SETTING = "setting"  # idempotent writes: leverage, margin mode, cancellations
    ORDER = "order"  # creates an order: never resent without a lookup


def exchange_message(exc: BaseException) -> tuple[int | None, str]:
    """(Binance-style error code or None, the exchange's own message)."""
    text = str(exc)
    match = _BODY.search(text)
    if match is not None:
        try:
            body = json.loads(match.group(0))
        except ValueError:
            body = None
        if isinstance(body, dict) and "msg" in body:
            code = body.get("code")
            try:
                number = int(code) if code is not None else None
            except (TypeError, ValueError):
                number = None
            return number, str(body["msg"])
    return None, _QUERY.sub("", text).strip()


def http_status(exc: BaseException) -> int | None:
    status = getattr(exc, "mimic_http_status", None)
    return status if isinstance(status, int) else None


def translate(exc: Exception, exchange: str, call: Call) -> ExchangeError:
    """The domain error for a failed ccxt call (anything raised inside it)."""
    if isinstance(exc, ExchangeError):
        return exc
    code, message = exchange_message(exc)
    reason = f"{exchange}: {message}" + (f" (code {code})" if code is not None else "")
    by_code = _by_code(code, reason, exc, call)
    if by_code is not None:
        return by_code
    return _by_class(exc, reason, call)


def _unknown_or_unavailable(reason: str, call: Call) -> ExchangeError:
    if call is Call.ORDER:
        return OutcomeUnknown(reason)
    return ExchangeUnavailable(reason)


def _rate_limited(reason: str, exc: BaseException) -> RateLimited:
    retry_after = getattr(exc, "mimic_retry_after", None)
    seconds = float(retry_after) if isinstance(retry_after, int | float) else DEFAULT_RETRY_AFTER
    return RateLimited(reason, seconds)


def _by_code(code: int | None, reason: str, exc: BaseException, call: Call) -> ExchangeError | None:
    match code:
        case None:
            return None
        case -2019 | -2018:
            return InsufficientMargin(reason)
        case -4164:
            return BelowMinNotional(reason)
        case -1111 | -4014:
            return InvalidPrecision(reason)
        case -2022:
            return ReduceOnlyRejected(reason)
        case -4116:
            return DuplicateClientOrderId(reason)
        case -4061:
            return OrderRejected(f"position side mismatch (hedge mode): {reason}")
        case -1106 | -4062:
            return OrderRejected(f"parameter not accepted in this position mode: {reason}")
        case -4087 | -4088 | -4400 | -4192:
            # Trading restrictions of the account (reduce-only only, quantitative rules,
            # cooling-off): ccxt raises PermissionDenied, an AuthenticationError, but the
            # keys are fine: Binance refused this order, and says why.
            return OrderRejected(f"trading restricted on this account: {reason}")
        case -2014 | -2015 | -1022 | -2017 | -1002 | -1099:
            return AuthRejected(reason)
        case -1121:
            return UnknownSymbol(reason)
        case -1003 | -1015:
            return _rate_limited(reason, exc)
        case -1021:
            # Rejected for its timestamp (clock skew): nothing executed, safe to retry.
            return ExchangeUnavailable(reason)
        case -1008:
            # Server overloaded, request throttled: Binance did not act on it.
            return ExchangeUnavailable(reason)
        case -1007 | -1006 | -1001 | -1000:
            # Timeout / unexpected response / disconnected / unknown: status unknown.
            return _unknown_or_unavailable(reason, call)
        case _:
            status = http_status(exc)
            if status is not None and status >= 500:
                return _unknown_or_unavailable(reason, call)
            return None


def _by_class(exc: Exception, reason: str, call: Call) -> ExchangeError:
    status = http_status(exc)
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return _rate_limited(reason, exc)
    if isinstance(exc, ccxt.InvalidNonce):
        return ExchangeUnavailable(reason)
    if isinstance(exc, ccxt.NetworkError | ccxt.BadResponse):
        # Whatever the status: a proxy or a load balancer may answer for an exchange that
        # got the request, so on an order only a lookup can tell.
        return _unknown_or_unavailable(reason, call)
    if call is Call.ORDER and isinstance(exc, ccxt.PermissionDenied | ccxt.AccountSuspended):
        # The keys were good enough to be refused this order: a restriction of the account
        # (or of the key's rights), not a reason to drop the client as if the keys were bad.
        return OrderRejected(reason)
    if isinstance(exc, ccxt.AuthenticationError):
        return AuthRejected(reason)
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientMargin(reason)
    if isinstance(exc, ccxt.BadSymbol):
        return UnknownSymbol(reason)
    if isinstance(exc, ccxt.DuplicateOrderId):
        return DuplicateClientOrderId(reason)
    if isinstance(exc, ccxt.ExchangeClosedByUser):
        return ExchangeUnavailable(reason)
    if isinstance(exc, ccxt.BaseError):
        if status is not None and status >= 500:
            return _unknown_or_unavailable(reason, call)
        # The exchange answered and refused (InvalidOrder, BadRequest, NotSupported, ...).
        return OrderRejected(reason)
    # Not from ccxt (a bug in a parser, an aiohttp error ccxt did not wrap): we cannot
    # tell whether the request went out.
    return _unknown_or_unavailable(f"{reason} ({type(exc).__name__})", call)


def is_order_not_found(exc: BaseException) -> bool:
    """The exchange proved the order absent (-2013 "Order does not exist")."""
    code, _ = exchange_message(exc)
    if code is not None:
        return code in (-2013, -2011)
    return isinstance(exc, ccxt.OrderNotFound)


def retry_after_seconds(headers: Any) -> float | None:
    """Retry-After of a 429/418 answer (seconds), if the exchange sent one."""
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if str(key).lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None
