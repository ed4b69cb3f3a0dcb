"""Which address the audit trail and the rate limits see: X-Forwarded-For only via a
configured proxy."""

from typing import Any

import pytest
from litestar.connection import ASGIConnection

from mimic.entrypoints.http.web_security import client_ip


def connection(peer: str, forwarded: str | None = None) -> ASGIConnection[Any, Any, Any, Any]:
    headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
    scope: Any = {"type": "http", "client": (peer, 40000), "headers": headers, "path": "/"}
    return ASGIConnection(scope)


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "seen"),
    [
        ("198.51.100.9", "1.2.3.4", (), "198.51.100.9"),  # no proxies configured
        ("198.51.100.9", "1.2.3.4", ("10.0.0.0/8",), "198.51.100.9"),  # peer is no proxy
        ("10.0.0.2", "1.2.3.4", ("10.0.0.0/8",), "1.2.3.4"),
        # A client's own X-Forwarded-For entries sit left of what our proxies appended.
        ("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.3", ("10.0.0.0/8",), "1.2.3.4"),
        ("10.0.0.2", None, ("10.0.0.2",), "10.0.0.2"),
        ("10.0.0.2", "not-an-ip", ("10.0.0.0/8",), "10.0.0.2"),
        ("10.0.0.2", "1.2.3.4, junk, 10.0.0.3", ("10.0.0.0/8",), "10.0.0.2"),
    ],
)
def test_client_ip(peer: str, forwarded: str | None, trusted: tuple[str, ...], seen: str) -> None:
    assert client_ip(connection(peer, forwarded), trusted) == seen
