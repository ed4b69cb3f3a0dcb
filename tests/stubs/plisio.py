"""A Plisio stub over real HTTP: the invoice and operation endpoints Mimic calls, and
callbacks signed the way Plisio signs them (HMAC-SHA1 of the compact JSON, key order kept).

    with PlisioStub("api-key") as stub:
        ...                                   # MIMIC_PLISIO_BASE_URL = stub.base_url
        stub.set_status(txn_id, "completed")  # what GET /api/v1/operations/{id} answers
        body = stub.callback(txn_id, "completed")

Shapes follow Plisio's documentation: `{"status": "success", "data": {...}}`, errors as
`{"status": "error", "data": {"name", "message", "code"}}`.
"""

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class StubInvoice:
    txn_id: str
    params: dict[str, str]
    status: str = "new"


class PlisioStub:
    """Serves from its own thread: Litestar's test client blocks the test's event loop
    while the app handles a request, and the app calls Plisio during that request."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.invoices: dict[str, StubInvoice] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        # Called after an invoice is made and before Plisio answers: a callback can overtake.
        self.on_create: Callable[[StubInvoice], None] | None = None
        self.refuse_next: str | None = None
        self.latency = 0.0  # seconds before each answer
        self.base_url = ""
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "PlisioStub":
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = dict(parse_qsl(url.query))
                status, body = stub.handle(url.path, params)
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (time-out tests)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: request lines carry the api_key."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # serve_forever checks for shutdown() every poll_interval: 0.5 s by default.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def set_status(self, txn_id: str, status: str) -> None:
        self.invoices[txn_id].status = status

    def callback(
        self, txn_id: str, status: str, *, raw_utf8: bool = False, **changes: Any
    ) -> dict[str, Any]:
        """The JSON body Plisio posts for `txn_id`, signed after `changes` are applied."""
        invoice = self.invoices[txn_id]
        params = invoice.params
        body: dict[str, Any] = {
            "txn_id": txn_id,
            "ipn_type": "invoice",
            "merchant": "Mimic",
            "merchant_id": "5f8d1b6a2e0b4c1d9a7e3f21",
            "amount": "29.012345",
            "currency": params.get("currency", "USDT_TRX"),
            "order_number": params["order_number"],
            "order_name": params["order_name"],
            "confirmations": 3,
            "status": status,
            "source_currency": params["source_currency"],
            "source_amount": params["source_amount"],
            "source_rate": "0.99957",
            "comment": "Paid to the invoice",
            "invoice_commission": "0.145062",
            "invoice_sum": "29.012345",
            "invoice_total_sum": "29.157407",
        }
        body.update(changes)
        body["verify_hash"] = sign(body, self.api_key, raw_utf8=raw_utf8)
        return body

    def handle(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        time.sleep(self.latency)
        with self._lock:
            self.requests.append((path, params))
        if not hmac.compare_digest(params.get("api_key", ""), self.api_key):
            return _error(422, "Unauthorized", "Invalid API key")
        if path == "/api/v1/invoices/new":
            return self._new_invoice(params)
        prefix = "/api/v1/operations/"
        if path.startswith(prefix):
            return self._operation(path[len(prefix) :])
        return _error(404, "Not Found", f"unknown path {path}")

    def _new_invoice(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self.refuse_next is not None:
                message, self.refuse_next = self.refuse_next, None
                return _error(422, "Bad Request", message)
            missing = [n for n in ("order_number", "order_name") if not params.get(n)]
            if missing:
                return _error(422, "Bad Request", f"Missing required parameters: {missing}")
            numbers = {i.params["order_number"] for i in self.invoices.values()}
            if params["order_number"] in numbers:
                return _error(422, "Bad Request", "order_number must be unique")
            txn_id = f"{next(self._ids):024x}"
            invoice = StubInvoice(txn_id=txn_id, params=params)
            self.invoices[txn_id] = invoice
        if self.on_create is not None:
            self.on_create(invoice)
        return 200, {
            "status": "success",
            "data": {"txn_id": txn_id, "invoice_url": f"https://plisio.net/invoice/{txn_id}"},
        }

    def _operation(self, txn_id: str) -> tuple[int, dict[str, Any]]:
        invoice = self.invoices.get(txn_id)
        if invoice is None:
            return _error(404, "Not Found", "Operation not found")
        return 200, {
            "status": "success",
            "data": {
                "type": "invoice",
                "status": invoice.status,
                "currency": invoice.params.get("currency", "USDT_TRX"),
                "source_currency": invoice.params["source_currency"],
                "amount": "29.012345",
                "id": invoice.txn_id,
            },
        }


def sign(body: dict[str, Any], api_key: str, *, raw_utf8: bool = False) -> str:
    """As Plisio's Python SDK signs (non-ASCII escaped), or its Node example (raw UTF-8)."""
    rest = {k: v for k, v in body.items() if k != "verify_hash"}
    message = json.dumps(rest, separators=(",", ":"), ensure_ascii=not raw_utf8)
    return hmac.new(api_key.encode(), message.encode(), hashlib.sha1).hexdigest()


def _error(status: int, name: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"status": "error", "data": {"name": name, "message": message, "code": status}}
