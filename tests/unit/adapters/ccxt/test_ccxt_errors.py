"""Every branch of the ccxt error mapping, one row each: what a failed call becomes."""

import asyncio
import json

import aiohttp
import ccxt.async_support as ccxt
import pytest

from mimic.adapters.ccxt.errors import (
    DEFAULT_RETRY_AFTER,
    Call,
    exchange_message,
    is_order_not_found,
    retry_after_seconds,
    translate,
)
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


def binance(
    cls: type[Exception], code: int, msg: str = "words", *, status: int | None = None
) -> Exception:
    """An exception as ccxt raises it for a Binance error body."""
    exc = cls("binanceusdm " + json.dumps({"code": code, "msg": msg}))
    if status is not None:
        exc.mimic_http_status = status  # type: ignore[attr-defined]
    return exc


def plain(cls: type[Exception], text: str = "refused", *, status: int | None = None) -> Exception:
    exc = cls(text)
    if status is not None:
        exc.mimic_http_status = status  # type: ignore[attr-defined]
    return exc


ORDER, READ, SETTING = Call.ORDER, Call.READ, Call.SETTING

BY_CODE = [
    (-2019, ORDER, InsufficientMargin),
    (-2018, ORDER, InsufficientMargin),
    (-4164, ORDER, BelowMinNotional),
    (-1111, ORDER, InvalidPrecision),
    (-4014, ORDER, InvalidPrecision),
    (-2022, ORDER, ReduceOnlyRejected),
    (-4116, ORDER, DuplicateClientOrderId),
    (-4061, ORDER, OrderRejected),
    (-1106, ORDER, OrderRejected),
    (-4062, ORDER, OrderRejected),
    (-4087, ORDER, OrderRejected),
    (-4088, ORDER, OrderRejected),
    (-4400, ORDER, OrderRejected),
    (-4192, ORDER, OrderRejected),
    (-2014, READ, AuthRejected),
    (-2015, ORDER, AuthRejected),
    (-1022, READ, AuthRejected),
    (-2017, READ, AuthRejected),
    (-1002, READ, AuthRejected),
    (-1099, READ, AuthRejected),
    (-1121, READ, UnknownSymbol),
    (-1003, ORDER, RateLimited),
    (-1015, ORDER, RateLimited),
    (-1021, ORDER, ExchangeUnavailable),
    (-1008, ORDER, ExchangeUnavailable),
    (-1007, ORDER, OutcomeUnknown),
    (-1006, ORDER, OutcomeUnknown),
    (-1001, ORDER, OutcomeUnknown),
    (-1000, ORDER, OutcomeUnknown),
    (-1007, READ, ExchangeUnavailable),
    (-1000, SETTING, ExchangeUnavailable),
]


@pytest.mark.parametrize(("code", "call", "expected"), BY_CODE)
def test_a_binance_code_decides_whatever_ccxt_class_carries_it(
    code: int, call: Call, expected: type[ExchangeError]
) -> None:
    # ExchangeError is the least precise class ccxt has: the code alone must decide.
    error = translate(binance(ccxt.ExchangeError, code, "Binance words"), "binanceusdm", call)
    assert type(error) is expected
    assert error.reason.endswith(f"binanceusdm: Binance words (code {code})")


@pytest.mark.parametrize("code", [-4087, -4088, -4400, -4192])
@pytest.mark.parametrize("call", [ORDER, READ])
def test_trading_restrictions_are_refusals_in_binance_words_not_bad_keys(
    code: int, call: Call
) -> None:
    # ccxt raises these as PermissionDenied, a subclass of AuthenticationError.
    exc = binance(ccxt.PermissionDenied, code, "Reduce-only order is permitted only.", status=400)
    error = translate(exc, "binanceusdm", call)
    assert type(error) is OrderRejected
    assert "Reduce-only order is permitted only." in error.reason
    assert f"code {code}" in error.reason


@pytest.mark.parametrize(
    ("status", "call", "expected"),
    [
        (503, ORDER, OutcomeUnknown),
        (500, READ, ExchangeUnavailable),
        (400, ORDER, None),  # an unknown code under 500: ccxt's class decides
    ],
)
def test_an_unknown_code_goes_by_the_http_status(
    status: int, call: Call, expected: type[ExchangeError] | None
) -> None:
    error = translate(binance(ccxt.BadRequest, -9999, status=status), "binanceusdm", call)
    assert type(error) is (expected or OrderRejected)


BY_CLASS = [
    (plain(ccxt.RateLimitExceeded), ORDER, RateLimited),
    (plain(ccxt.DDoSProtection, status=418), READ, RateLimited),
    (plain(ccxt.InvalidNonce), ORDER, ExchangeUnavailable),
    (plain(ccxt.RequestTimeout), ORDER, OutcomeUnknown),
    (plain(ccxt.RequestTimeout), READ, ExchangeUnavailable),
    (plain(ccxt.NetworkError), ORDER, OutcomeUnknown),
    (plain(ccxt.ExchangeNotAvailable, status=404), ORDER, OutcomeUnknown),
    (plain(ccxt.ExchangeNotAvailable, status=409), ORDER, OutcomeUnknown),
    (plain(ccxt.ExchangeNotAvailable, status=502), SETTING, ExchangeUnavailable),
    (plain(ccxt.BadResponse), ORDER, OutcomeUnknown),
    (plain(ccxt.NullResponse), READ, ExchangeUnavailable),
    (plain(ccxt.PermissionDenied), ORDER, OrderRejected),
    (plain(ccxt.AccountSuspended), ORDER, OrderRejected),
    (plain(ccxt.PermissionDenied), READ, AuthRejected),
    (plain(ccxt.AccountSuspended), SETTING, AuthRejected),
    (plain(ccxt.AuthenticationError), ORDER, AuthRejected),
    (plain(ccxt.InsufficientFunds), ORDER, InsufficientMargin),
    (plain(ccxt.BadSymbol), READ, UnknownSymbol),
    (plain(ccxt.DuplicateOrderId), ORDER, DuplicateClientOrderId),
    (plain(ccxt.ExchangeClosedByUser), ORDER, ExchangeUnavailable),
    (plain(ccxt.InvalidOrder), ORDER, OrderRejected),
    (plain(ccxt.NotSupported), SETTING, OrderRejected),
    (plain(ccxt.ExchangeError, status=502), ORDER, OutcomeUnknown),
    (plain(ccxt.ExchangeError, status=500), READ, ExchangeUnavailable),
    (plain(ccxt.ExchangeError, status=400), ORDER, OrderRejected),
    # Not wrapped by ccxt: nobody can tell whether the order went out.
    (plain(aiohttp.ClientOSError, "connection reset"), ORDER, OutcomeUnknown),
    (plain(asyncio.TimeoutError, ""), ORDER, OutcomeUnknown),
    (plain(KeyError, "orderId"), ORDER, OutcomeUnknown),
    (plain(ValueError, "not a number"), READ, ExchangeUnavailable),
]


@pytest.mark.parametrize(("exc", "call", "expected"), BY_CLASS, ids=lambda v: repr(v)[:40])
def test_without_a_code_the_ccxt_class_and_the_call_decide(
    exc: Exception, call: Call, expected: type[ExchangeError]
) -> None:
    error = translate(exc, "bybit", call)
    assert type(error) is expected
    assert error.reason.startswith("bybit: ")


def test_an_exception_ccxt_did_not_wrap_names_its_type() -> None:
    error = translate(KeyError("orderId"), "bybit", ORDER)
    assert error.reason == "bybit: 'orderId' (KeyError)"


def test_a_domain_error_passes_through_unchanged() -> None:
    original = InsufficientMargin("already translated")
    assert translate(original, "bybit", ORDER) is original


def test_a_rate_limit_keeps_the_retry_after_the_exchange_sent() -> None:
    exc = binance(ccxt.RateLimitExceeded, -1003, status=429)
    exc.mimic_retry_after = 7.5  # type: ignore[attr-defined]
    error = translate(exc, "binanceusdm", ORDER)
    assert isinstance(error, RateLimited)
    assert error.retry_after_seconds == 7.5
    bare = translate(plain(ccxt.RateLimitExceeded), "binanceusdm", ORDER)
    assert isinstance(bare, RateLimited)
    assert bare.retry_after_seconds == DEFAULT_RETRY_AFTER


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'binanceusdm {"code":-2019,"msg":"Margin is insufficient."}',
            (-2019, "Margin is insufficient."),
        ),
        ('x {"code":"-1121","msg":"Invalid symbol."}', (-1121, "Invalid symbol.")),
        ('x {"code":"abc","msg":"odd code"}', (None, "odd code")),
        ('x {"code":null,"msg":"no code"}', (None, "no code")),
        ("x {not json}", (None, "x {not json}")),
        ('x {"error":"no msg"}', (None, 'x {"error":"no msg"}')),
        (
            "GET https://fapi/x?timestamp=1&signature=abc failed",
            (None, "GET https://fapi/x failed"),
        ),
    ],
)
def test_exchange_message_reads_binance_bodies_and_hides_signed_queries(
    text: str, expected: tuple[int | None, str]
) -> None:
    assert exchange_message(Exception(text)) == expected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (binance(ccxt.OrderNotFound, -2013, "Order does not exist."), True),
        (binance(ccxt.ExchangeError, -2011, "Unknown order sent."), True),
        (binance(ccxt.ExchangeError, -1007, "Timeout."), False),
        (plain(ccxt.OrderNotFound, "bybit order not found"), True),
        (plain(ccxt.ExchangeError, "bybit other"), False),
    ],
)
def test_order_not_found_only_when_the_exchange_says_so(exc: Exception, expected: bool) -> None:
    assert is_order_not_found(exc) is expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "12"}, 12.0),
        ({"retry-after": "-3"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Other": "1"}, None),
        (None, None),
    ],
)
def test_retry_after_header(headers: object, expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected
