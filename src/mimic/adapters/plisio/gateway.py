"""Plisio over httpx: invoices and the operation lookup behind the `PaymentGateway` port.

Plisio takes its secret as the `api_key` query parameter, so the key is in every URL: no
URL, httpx exception text or Plisio message leaves this module unredacted, and the httpx
request log line (INFO) is filtered.
"""

import logging
import re
from decimal import Decimal
from typing import Any

import httpx

from mimic.adapters.plisio.callbacks import read_callback
from mimic.adapters.plisio.statuses import invoice_status
from mimic.domain.errors import PaymentProviderError, PaymentsNotConfigured
from mimic.ports.payments import (
    CreatedInvoice,
    NewInvoiceRequest,
    PaymentCallback,
    PaymentGateway,
    ProviderOperation,
)

DEFAULT_BASE_URL = "https://api.plisio.net"
_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s\"']+")
_MAX_MESSAGE = 200


def redact(text: str) -> str:
    return _KEY_IN_TEXT.sub(r"\1[redacted]", text)


class RedactApiKeyFilter(logging.Filter):
    """Rewrites log records whose text carries `api_key=...` (httpx logs request URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "api_key=" in message:
            record.msg, record.args = redact(message), None
        return True


_REDACTION = RedactApiKeyFilter()
for _name in ("httpx", "httpcore"):
    if _REDACTION not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_REDACTION)


def _plain_amount(value: Decimal) -> str:
    return format(value, "f")


class PlisioGateway(PaymentGateway):
    def __init__(
        self, client: httpx.AsyncClient, api_key: str | None, base_url: str = DEFAULT_BASE_URL
    ) -> None:
        self._client = client
        self._api_key = api_key or None
        self._base_url = base_url.rstrip("/")

    @property
    def configured(self) -> bool:
        return self._api_key is not None

    def read_callback(self, body: bytes, content_type: str) -> PaymentCallback:
        return read_callback(body, content_type, self._key())

    def _key(self) -> str:
        if self._api_key is None:
            raise PaymentsNotConfigured(
                "payments are not configured: set MIMIC_PLISIO_API_KEY to accept payments"
            )
        return self._api_key

    async def create_invoice(self, request: NewInvoiceRequest) -> CreatedInvoice:
        params = {
            "api_key": self._key(),
            "order_number": request.order_number,
            "order_name": request.order_name,
            "source_currency": request.source_currency,
            "source_amount": _plain_amount(request.source_amount),
            "callback_url": request.callback_url,
            "email": request.email,
            "expire_min": str(request.expire_min),
        }
        if request.currency:
            params["currency"] = request.currency
        data = await self._get("/api/v1/invoices/new", params, "create the invoice")
        txn_id, url = data.get("txn_id"), data.get("invoice_url")
        if not isinstance(txn_id, str) or not txn_id or not isinstance(url, str) or not url:
            raise PaymentProviderError(
                "Plisio accepted the invoice but did not return its txn_id and invoice_url"
            )
        return CreatedInvoice(txn_id=txn_id, invoice_url=url)

    async def fetch_operation(self, txn_id: str) -> ProviderOperation:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", txn_id):
            raise PaymentProviderError("the Plisio transaction id is malformed")
        data = await self._get(
            f"/api/v1/operations/{txn_id}", {"api_key": self._key()}, "look the invoice up"
        )
        status, found = data.get("status"), data.get("id", data.get("txn_id"))
        if not isinstance(status, str) or str(found) != txn_id:
            raise PaymentProviderError(f"Plisio's record of {txn_id} has no usable status")
        return ProviderOperation(
            txn_id=txn_id, status=status, invoice_status=invoice_status(status)
        )

    async def _get(self, path: str, params: dict[str, str], doing: str) -> dict[str, Any]:
        try:
            response = await self._client.get(self._base_url + path, params=params)
        except httpx.TimeoutException:
            raise PaymentProviderError(
                f"Plisio did not answer in time; could not {doing}, try again"
            ) from None
        except httpx.HTTPError as exc:
            # The exception's text may hold the URL, and with it the key: name the kind only.
            raise PaymentProviderError(
                f"Plisio could not be reached ({type(exc).__name__}); could not {doing}"
            ) from None
        try:
            body = response.json()
        except ValueError:
            raise PaymentProviderError(
                f"Plisio answered HTTP {response.status_code} with a body that is not JSON; "
                f"could not {doing}"
            ) from None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            data = {}
        if response.status_code != 200 or body.get("status") != "success":
            message = data.get("message") or data.get("name") or "no reason given"
            message = redact(str(message)).replace(self._key(), "[redacted]")[:_MAX_MESSAGE]
            raise PaymentProviderError(
                f"Plisio refused to {doing} (HTTP {response.status_code}): {message}"
            )
        return data
