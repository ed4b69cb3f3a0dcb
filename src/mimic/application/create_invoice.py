"""A follower asks to pay for a plan: Plisio creates the invoice, then it is recorded here."""

import re
import uuid
from dataclasses import dataclass

from mimic.application.plans import resolve_plan
from mimic.domain.errors import InvalidField, NotFound, PaymentsNotConfigured
from mimic.domain.payments import Invoice, InvoiceStatus
from mimic.domain.quotas import Quotas, check_hourly_quota
from mimic.ports.payments import (
    InvoiceRepository,
    NewInvoiceRequest,
    PaymentGateway,
    PlanRepository,
)
from mimic.ports.repositories import TransactionManager, UserRepository
from mimic.ports.services import Clock

_CURRENCY = re.compile(r"^[A-Z0-9_]{2,16}$")


@dataclass(frozen=True, slots=True)
class InvoiceOptions:
    callback_url: str
    expire_min: int = 60
    # Each invoice is a call to Plisio on our API key: one account must not spend it.
    per_hour: int = Quotas().invoices_per_hour


@dataclass(frozen=True, slots=True)
class CreateInvoiceCommand:
    user_id: str
    plan: str
    currency: str | None = None


class CreateInvoice:
    def __init__(
        self,
        plans: PlanRepository,
        invoices: InvoiceRepository,
        users: UserRepository,
        gateway: PaymentGateway,
        tx: TransactionManager,
        clock: Clock,
        options: InvoiceOptions,
    ) -> None:
        self._plans = plans
        self._invoices = invoices
        self._users = users
        self._gateway = gateway
        self._tx = tx
        self._clock = clock
        self._options = options

    async def __call__(self, command: CreateInvoiceCommand) -> Invoice:
        if not self._gateway.configured:
            raise PaymentsNotConfigured(
                "payments are not configured: set MIMIC_PLISIO_API_KEY to accept payments"
            )
        plan = await resolve_plan(self._plans, command.plan.strip())
        if plan is None or not plan.active:
            raise InvalidField("plan", "is not a plan on sale (see GET /api/payments/plans)")
        currency = None
        if command.currency is not None and command.currency.strip():
            currency = command.currency.strip().upper()
            if not _CURRENCY.fullmatch(currency):
                raise InvalidField(
                    "currency", "must be a Plisio currency id such as USDT_TRX or BTC"
                )
        user = await self._users.get(command.user_id)
        if user is None:
            raise NotFound("user not found")
        latest = await self._invoices.list_for_user(user.id, limit=self._options.per_hour)
        check_hourly_quota(
            "invoices",
            [invoice.created_at for invoice in latest],
            self._options.per_hour,
            self._clock.now(),
        )
        # Plisio first, then our row: a failure there leaves nothing half-created here. A
        # callback that overtakes our insert is answered 404 and Plisio delivers it again.
        invoice_id = uuid.uuid4().hex
        created = await self._gateway.create_invoice(
            NewInvoiceRequest(
                order_number=invoice_id,
                order_name=f"Mimic {plan.name} ({plan.duration_days} days)",
                source_amount=plan.price_usd,
                source_currency="USD",
                currency=currency,
                email=user.email,
                callback_url=self._options.callback_url,
                expire_min=self._options.expire_min,
            )
        )
        now = self._clock.now()
        invoice = Invoice(
            id=invoice_id,
            user_id=user.id,
            plan_id=plan.id,
            plan_name=plan.name,
            amount_usd=plan.price_usd,
            duration_days=plan.duration_days,
            currency=currency,
            created_at=now,
            status=InvoiceStatus.NEW,
            provider_txn_id=created.txn_id,
            invoice_url=created.invoice_url,
            updated_at=now,
        )
        await self._invoices.add(invoice)
        await self._tx.commit()
        return invoice
