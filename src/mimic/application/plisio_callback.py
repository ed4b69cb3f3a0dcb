"""Plisio tells us an invoice changed: verify, ask Plisio itself, then act exactly once.

The callback only triggers the work: its signature proves it came from Plisio, and the
status acted upon is the one Plisio returns when asked again. Completion is a
compare-and-set on the invoice row, so five deliveries (or five at once) extend the
subscription and credit the referrer once.
"""

import logging
import uuid
from dataclasses import dataclass
from types import MappingProxyType

from mimic.application.activate_subscription import extend_for
from mimic.application.best_effort import notify_quietly
from mimic.domain.audit import AuditEvent
from mimic.domain.errors import CallbackRefused, InvalidField, NotFound
from mimic.domain.payments import (
    Invoice,
    InvoiceStatus,
    ReferralCommission,
    commission_amount,
    statuses_that_may_become,
)
from mimic.ports.payments import (
    InvoiceRepository,
    PaymentGateway,
    PaymentSettingsRepository,
    ReferralRepository,
    SubscriptionRepository,
)
from mimic.ports.repositories import AuditLog, TransactionManager, UserRepository
from mimic.ports.services import Clock, Notifier

log = logging.getLogger(__name__)

REJECTED_ACTION = "payment.callback_rejected"


@dataclass(frozen=True, slots=True)
class PlisioCallbackCommand:
    body: bytes  # as posted: the signature covers its own text
    content_type: str = "application/json"
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackOutcome:
    invoice_id: str
    status: InvoiceStatus
    activated: bool


class HandlePlisioCallback:
    def __init__(
        self,
        invoices: InvoiceRepository,
        subscriptions: SubscriptionRepository,
        referrals: ReferralRepository,
        users: UserRepository,
        settings: PaymentSettingsRepository,
        gateway: PaymentGateway,
        audit: AuditLog,
        notifier: Notifier,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._invoices = invoices
        self._subscriptions = subscriptions
        self._referrals = referrals
        self._users = users
        self._settings = settings
        self._gateway = gateway
        self._audit = audit
        self._notifier = notifier
        self._tx = tx
        self._clock = clock

    async def __call__(self, command: PlisioCallbackCommand) -> CallbackOutcome:
        try:
            callback = self._gateway.read_callback(command.body, command.content_type)
        except CallbackRefused as exc:
            await self._reject(command, exc)
            raise
        invoice = await self._invoices.get(callback.order_number)
        if invoice is None:
            raise NotFound(
                f"invoice {callback.order_number} is not known (yet); deliver the callback again"
            )
        if invoice.provider_txn_id != callback.txn_id:
            error = CallbackRefused(
                "txn_id",
                "does not belong to this invoice",
                order_number=callback.order_number,
                txn_id=callback.txn_id,
                status=callback.status,
            )
            await self._reject(command, error)
            raise error
        if invoice.status is InvoiceStatus.COMPLETED:
            return CallbackOutcome(invoice.id, invoice.status, activated=False)
        if callback.invoice_status is None:
            raise InvalidField("status", f"{callback.status!r} is not a Plisio invoice status")
        # The word of Plisio's API, not of the callback, decides what happens.
        operation = await self._gateway.fetch_operation(callback.txn_id)
        confirmed = operation.invoice_status
        if confirmed is None:
            raise InvalidField("status", f"Plisio reports unknown status {operation.status!r}")
        if confirmed is InvoiceStatus.COMPLETED:
            return await self._complete(invoice)
        if confirmed is not invoice.status:
            moved = await self._invoices.transition(
                invoice.id,
                to=confirmed,
                allowed_from=statuses_that_may_become(confirmed),
                now=self._clock.now(),
            )
            await self._tx.commit()
            if moved:
                invoice.status = confirmed
        return CallbackOutcome(invoice.id, invoice.status, activated=False)

    async def _complete(self, invoice: Invoice) -> CallbackOutcome:
        now = self._clock.now()
        won = await self._invoices.transition(
            invoice.id,
            to=InvoiceStatus.COMPLETED,
            allowed_from=statuses_that_may_become(InvoiceStatus.COMPLETED),
            now=now,
        )
        if not won:  # another delivery of this callback got there first
            await self._tx.rollback()
            return CallbackOutcome(invoice.id, InvoiceStatus.COMPLETED, activated=False)
        subscription = await extend_for(
            self._subscriptions,
            user_id=invoice.user_id,
            plan_id=invoice.plan_id,
            plan_name=invoice.plan_name,
            days=invoice.duration_days,
            now=now,
        )
        commission = await self._credit_referrer(invoice)
        details = {
            "plan": invoice.plan_name,
            "amount_usd": str(invoice.amount_usd),
            "expires_at": subscription.expires_at.isoformat(),
        }
        if commission is not None:
            details["commission_usd"] = str(commission.amount_usd)
        await self._audit.record(
            AuditEvent(
                id=uuid.uuid4().hex,
                at=now,
                action="payment.completed",
                actor_id=invoice.user_id,
                target=f"invoice:{invoice.id}",
                details=MappingProxyType(details),
            )
        )
        await self._tx.commit()
        await notify_quietly(
            self._notifier,
            invoice.user_id,
            "payment.completed",
            f"Payment of {invoice.amount_usd} USD received: {invoice.plan_name} is active "
            f"until {subscription.expires_at:%Y-%m-%d %H:%M} UTC.",
        )
        return CallbackOutcome(invoice.id, InvoiceStatus.COMPLETED, activated=True)

    async def _credit_referrer(self, invoice: Invoice) -> ReferralCommission | None:
        user = await self._users.get(invoice.user_id)
        if user is None or user.referred_by is None:
            return None
        perc = (await self._settings.get_payment_settings()).referral_commission_perc
        amount = commission_amount(invoice.amount_usd, perc)
        if amount <= 0:
            return None
        commission = ReferralCommission(
            id=uuid.uuid4().hex,
            referrer_id=user.referred_by,
            referred_user_id=user.id,
            invoice_id=invoice.id,
            amount_usd=amount,
            perc=perc,
            created_at=self._clock.now(),
        )
        return commission if await self._referrals.add_commission(commission) else None

    async def _reject(self, command: PlisioCallbackCommand, error: CallbackRefused) -> None:
        """Audited in its own transaction: the rejection is kept though nothing else is."""
        order = error.order_number
        log.warning("Plisio callback rejected: %s", error)
        await self._audit.record(
            AuditEvent(
                id=uuid.uuid4().hex,
                at=self._clock.now(),
                action=REJECTED_ACTION,
                target=f"invoice:{str(order)[:64]}" if order is not None else None,
                ip=command.ip,
                details=MappingProxyType({"reason": str(error), "status": str(error.status)[:32]}),
            )
        )
        await self._tx.commit()
