"""The Plisio adapter over real HTTP against the stub: shapes, refusals, time-outs."""

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import httpx
import pytest

from mimic.adapters.plisio.gateway import PlisioGateway
from mimic.domain.errors import PaymentProviderError, PaymentsNotConfigured
from mimic.ports.payments import NewInvoiceRequest
from tests.stubs.plisio import PlisioStub

KEY = "gateway-test-key-7c1e"

REQUEST = NewInvoiceRequest(
    order_number="a" * 32,
    order_name="Mimic Pro (30 days)",
    source_amount=Decimal("79.00"),
    source_currency="USD",
    currency=None,
    email="alice@example.com",
    callback_url="https://mimic.example/api/payments/plisio/callback?json=true",
    expire_min=60,
)


@pytest.fixture
def stub() -> Iterator[PlisioStub]:
    with PlisioStub(KEY) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=0.5) as http:
        yield http


async def test_creates_an_invoice_and_reads_it_back(
    stub: PlisioStub, client: httpx.AsyncClient
) -> None:
    gateway = PlisioGateway(client, KEY, stub.base_url + "/")
    created = await gateway.create_invoice(REQUEST)
    [(path, sent)] = stub.requests
    assert path == "/api/v1/invoices/new"
    assert sent["source_amount"] == "79.00"
    assert "currency" not in sent  # Plisio then offers the shop's currencies
    assert created.invoice_url == f"https://plisio.net/invoice/{created.txn_id}"
    stub.set_status(created.txn_id, "mismatch")
    operation = await gateway.fetch_operation(created.txn_id)
    assert (operation.txn_id, operation.status) == (created.txn_id, "mismatch")


async def test_refusals_and_silence_become_provider_errors_without_the_key(
    stub: PlisioStub, client: httpx.AsyncClient
) -> None:
    wrong_key = PlisioGateway(client, "not-the-key", stub.base_url)
    with pytest.raises(PaymentProviderError, match="Invalid API key") as refused:
        await wrong_key.create_invoice(REQUEST)
    gateway = PlisioGateway(client, KEY, stub.base_url)
    with pytest.raises(PaymentProviderError, match="Operation not found") as missing:
        await gateway.fetch_operation("0" * 24)
    with pytest.raises(PaymentProviderError, match="malformed"):
        await gateway.fetch_operation("../invoices/new")
    stub.latency = 1.0
    with pytest.raises(PaymentProviderError, match="did not answer in time") as silent:
        await gateway.create_invoice(REQUEST)
    for error in (refused, missing, silent):
        assert KEY not in str(error.value)
        # No httpx exception (whose text may hold the URL) rides along in the chain.
        assert error.value.__cause__ is None
        assert error.value.__context__ is None or error.value.__suppress_context__


async def test_without_a_key_nothing_is_sent(stub: PlisioStub, client: httpx.AsyncClient) -> None:
    gateway = PlisioGateway(client, None, stub.base_url)
    assert not gateway.configured
    with pytest.raises(PaymentsNotConfigured, match="MIMIC_PLISIO_API_KEY"):
        await gateway.create_invoice(REQUEST)
    with pytest.raises(PaymentsNotConfigured):
        gateway.read_callback(b"{}", "application/json")
    assert stub.requests == []
