"""What the payment use cases need from the outside: Plisio and the payment tables."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from mimic.domain.accounts import User
from mimic.domain.payments import (
    Invoice,
    InvoiceStatus,
    PaymentSettings,
    Payout,
    Plan,
    ReferralCommission,
    Subscription,
)


@dataclass(frozen=True, slots=True)
class NewInvoiceRequest:
    order_number: str
    order_name: str
    source_amount: Decimal
    source_currency: str
    currency: str | None
    email: str
    callback_url: str
    expire_min: int


@dataclass(frozen=True, slots=True)
class CreatedInvoice:
    txn_id: str
    invoice_url: str


@dataclass(frozen=True, slots=True)
class ProviderOperation:
    """The provider's own record of an invoice, read back before acting on a callback."""

    txn_id: str
    status: str  # the provider's own word, as it sent it
    invoice_status: InvoiceStatus | None  # that word as ours; None: a word it does not document


@dataclass(frozen=True, slots=True)
class PaymentCallback:
    """A provider's callback whose signature proved it: the invoice it names, as it says."""

    order_number: str
    txn_id: str
    status: str  # the provider's own word, as it sent it
    invoice_status: InvoiceStatus | None  # that word as ours; None: a word it does not document


class PaymentGateway(Protocol):
    @property
    def configured(self) -> bool:
        """Whether an API key is set; without one nothing can be created or verified."""
        ...

    def read_callback(self, body: bytes, content_type: str) -> PaymentCallback:
        """The callback as posted, if its signature proves it; else `CallbackRefused`.

        Raises `PaymentsNotConfigured` when there is no key to check it with.
        """
        ...

    async def create_invoice(self, request: NewInvoiceRequest) -> CreatedInvoice:
        """Raises `PaymentProviderError` when the provider is unreachable or refuses."""
        ...

    async def fetch_operation(self, txn_id: str) -> ProviderOperation:
        """Raises `PaymentProviderError` when the provider is unreachable or refuses."""
        ...


class PlanRepository(Protocol):
    async def add(self, plan: Plan) -> None:
        """Raises `Conflict` when the name is taken."""
        ...

    async def get(self, plan_id: str) -> Plan | None: ...

    async def get_by_name(self, name: str) -> Plan | None:
        """Case-insensitive."""
        ...

    async def list(self, *, include_inactive: bool = False) -> list[Plan]: ...

    async def save(self, plan: Plan) -> None:
        """Raises `Conflict` when the new name is taken by another plan."""
        ...

    async def count(self) -> int: ...


class InvoiceRepository(Protocol):
    async def add(self, invoice: Invoice) -> None: ...

    async def get(self, invoice_id: str) -> Invoice | None: ...

    async def list_for_user(self, user_id: str, *, limit: int = 100) -> list[Invoice]: ...

    async def transition(
        self,
        invoice_id: str,
        *,
        to: InvoiceStatus,
        allowed_from: Collection[InvoiceStatus],
        now: datetime,
    ) -> bool:
        """Compare-and-set the status; True only for the one caller whose write moved it.

        Concurrent deliveries of one callback race here and exactly one wins.
        """
        ...


class SubscriptionRepository(Protocol):
    async def get(self, user_id: str, *, for_update: bool = False) -> Subscription | None:
        """`for_update` holds off other writers of this user's subscription, whether a row
        exists yet or not, until the caller's transaction ends."""
        ...

    async def put(self, subscription: Subscription) -> None: ...

    async def active_among(self, user_ids: Collection[str], now: datetime) -> set[str]:
        """Of `user_ids`, those with a subscription that has not expired at `now`."""
        ...

    async def due_for_notice(
        self, now: datetime, notice_window_end: datetime
    ) -> list[Subscription]:
        """Subscriptions expiring before `notice_window_end` that may still owe a notice."""
        ...

    async def mark_notice(self, user_id: str, *, expires_at: datetime, expired: bool) -> bool:
        """Record that the (expiring or expired) notice for `expires_at` went out; True only
        for the caller that recorded it first, False if the expiry moved meanwhile."""
        ...


class ReferralRepository(Protocol):
    async def add_commission(self, commission: ReferralCommission) -> bool:
        """False (and nothing stored) when the invoice already credited a commission."""
        ...

    async def commissions_of(self, referrer_id: str) -> list[ReferralCommission]: ...

    async def all_commissions(self) -> list[ReferralCommission]: ...

    async def unpaid_of(self, referrer_id: str) -> list[ReferralCommission]: ...

    async def referred_users(self, referrer_id: str) -> list[User]: ...

    async def add_payout(self, payout: Payout) -> bool:
        """Links the payout's commissions to it; False (nothing stored) when one of them
        was paid out meanwhile."""
        ...


class PaymentSettingsRepository(Protocol):
    async def get_payment_settings(self) -> PaymentSettings: ...

    async def save_payment_settings(self, settings: PaymentSettings) -> None: ...
