"""A user's own invoices and subscription."""

from dataclasses import dataclass

from mimic.domain.errors import NotFound
from mimic.domain.payments import Invoice, Subscription
from mimic.ports.payments import InvoiceRepository, SubscriptionRepository
from mimic.ports.services import Clock


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    subscription: Subscription | None
    active: bool


class ViewPayments:
    def __init__(
        self, invoices: InvoiceRepository, subscriptions: SubscriptionRepository, clock: Clock
    ) -> None:
        self._invoices = invoices
        self._subscriptions = subscriptions
        self._clock = clock

    async def invoice(self, user_id: str, invoice_id: str) -> Invoice:
        invoice = await self._invoices.get(invoice_id)
        if invoice is None or invoice.user_id != user_id:
            raise NotFound(f"invoice {invoice_id} not found")
        return invoice

    async def history(self, user_id: str, limit: int = 100) -> list[Invoice]:
        return await self._invoices.list_for_user(user_id, limit=limit)

    async def subscription(self, user_id: str) -> SubscriptionView:
        current = await self._subscriptions.get(user_id)
        active = current is not None and current.is_active(self._clock.now())
        return SubscriptionView(current, active)
