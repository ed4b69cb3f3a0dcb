"""In-memory adapters of the payment ports, for unit tests (the same contracts as SQL)."""

import builtins
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from mimic.adapters.plisio.callbacks import read_callback
from mimic.adapters.plisio.statuses import invoice_status
from mimic.domain.accounts import User
from mimic.domain.errors import Conflict, PaymentProviderError, PaymentsNotConfigured
from mimic.domain.payments import (
    Invoice,
    InvoiceStatus,
    PaymentSettings,
    Payout,
    Plan,
    ReferralCommission,
    Subscription,
)
from mimic.ports.payments import (
    CreatedInvoice,
    InvoiceRepository,
    NewInvoiceRequest,
    PaymentCallback,
    PaymentGateway,
    PaymentSettingsRepository,
    PlanRepository,
    ProviderOperation,
    ReferralRepository,
    SubscriptionRepository,
)
from tests.fakes.repositories.users import InMemoryUserRepository


class InMemoryPlanRepository(PlanRepository):
    def __init__(self) -> None:
        self._plans: dict[str, Plan] = {}

    def _check_name(self, plan: Plan) -> None:
        if any(
            p.name.lower() == plan.name.lower() and p.id != plan.id for p in self._plans.values()
        ):
            raise Conflict(f"a plan named {plan.name!r} exists already")

    async def add(self, plan: Plan) -> None:
        self._check_name(plan)
        self._plans[plan.id] = replace(plan)

    async def get(self, plan_id: str) -> Plan | None:
        found = self._plans.get(plan_id)
        return None if found is None else replace(found)

    async def get_by_name(self, name: str) -> Plan | None:
        wanted = name.strip().lower()
        return next((replace(p) for p in self._plans.values() if p.name.lower() == wanted), None)

    async def list(self, *, include_inactive: bool = False) -> builtins.list[Plan]:
        found = [p for p in self._plans.values() if include_inactive or p.active]
        return [replace(p) for p in sorted(found, key=lambda p: (p.sort_order, p.price_usd))]

    async def save(self, plan: Plan) -> None:
        self._check_name(plan)
        self._plans[plan.id] = replace(plan)

    async def count(self) -> int:
        return len(self._plans)


class InMemoryInvoiceRepository(InvoiceRepository):
    def __init__(self) -> None:
        self.invoices: dict[str, Invoice] = {}

    async def add(self, invoice: Invoice) -> None:
        self.invoices[invoice.id] = replace(invoice)

    async def get(self, invoice_id: str) -> Invoice | None:
        found = self.invoices.get(invoice_id)
        return None if found is None else replace(found)

    async def list_for_user(self, user_id: str, *, limit: int = 100) -> list[Invoice]:
        mine = [i for i in self.invoices.values() if i.user_id == user_id]
        return [replace(i) for i in sorted(mine, key=lambda i: i.created_at, reverse=True)][:limit]

    async def transition(
        self,
        invoice_id: str,
        *,
        to: InvoiceStatus,
        allowed_from: Collection[InvoiceStatus],
        now: datetime,
    ) -> bool:
        invoice = self.invoices.get(invoice_id)
        if invoice is None or invoice.status not in allowed_from:
            return False
        invoice.status, invoice.updated_at = to, now
        if to is InvoiceStatus.COMPLETED:
            invoice.completed_at = now
        return True


class InMemorySubscriptionRepository(SubscriptionRepository):
    def __init__(self) -> None:
        self.rows: dict[str, Subscription] = {}

    async def get(self, user_id: str, *, for_update: bool = False) -> Subscription | None:
        found = self.rows.get(user_id)
        return None if found is None else replace(found)

    async def put(self, subscription: Subscription) -> None:
        self.rows[subscription.user_id] = replace(subscription)

    async def active_among(self, user_ids: Collection[str], now: datetime) -> set[str]:
        return {u for u in user_ids if u in self.rows and self.rows[u].is_active(now)}

    async def due_for_notice(
        self, now: datetime, notice_window_end: datetime
    ) -> list[Subscription]:
        return [
            replace(s)
            for s in sorted(self.rows.values(), key=lambda s: s.expires_at)
            if s.expires_at <= notice_window_end
            and (s.expiring_notice_for != s.expires_at or s.expired_notice_for != s.expires_at)
        ]

    async def mark_notice(self, user_id: str, *, expires_at: datetime, expired: bool) -> bool:
        row = self.rows.get(user_id)
        if row is None or row.expires_at != expires_at:
            return False
        if expired:
            if row.expired_notice_for == expires_at:
                return False
            row.expired_notice_for = expires_at
        else:
            if row.expiring_notice_for == expires_at:
                return False
            row.expiring_notice_for = expires_at
        return True


class InMemoryReferralRepository(ReferralRepository):
    def __init__(self, users: InMemoryUserRepository) -> None:
        self._users = users
        self.commissions: dict[str, ReferralCommission] = {}
        self.payouts: dict[str, Payout] = {}

    async def add_commission(self, commission: ReferralCommission) -> bool:
        if any(c.invoice_id == commission.invoice_id for c in self.commissions.values()):
            return False
        self.commissions[commission.id] = replace(commission)
        return True

    def _where(
        self, *, referrer_id: str | None = None, unpaid: bool = False
    ) -> list[ReferralCommission]:
        return [
            replace(c)
            for c in sorted(self.commissions.values(), key=lambda c: (c.created_at, c.id))
            if (referrer_id is None or c.referrer_id == referrer_id)
            and (not unpaid or c.payout_id is None)
        ]

    async def commissions_of(self, referrer_id: str) -> list[ReferralCommission]:
        return self._where(referrer_id=referrer_id)

    async def all_commissions(self) -> list[ReferralCommission]:
        return self._where()

    async def unpaid_of(self, referrer_id: str) -> list[ReferralCommission]:
        return self._where(referrer_id=referrer_id, unpaid=True)

    async def referred_users(self, referrer_id: str) -> list[User]:
        return [u for u in self._users.all() if u.referred_by == referrer_id]

    async def add_payout(self, payout: Payout) -> bool:
        targets = [self.commissions.get(i) for i in payout.commission_ids]
        if any(c is None or c.payout_id is not None for c in targets):
            return False
        for commission in targets:
            assert commission is not None
            commission.payout_id = payout.id
        self.payouts[payout.id] = payout
        return True


class InMemoryPaymentSettingsRepository(PaymentSettingsRepository):
    def __init__(self, settings: PaymentSettings | None = None) -> None:
        self.settings = settings or PaymentSettings()

    async def get_payment_settings(self) -> PaymentSettings:
        return self.settings

    async def save_payment_settings(self, settings: PaymentSettings) -> None:
        self.settings = settings


class FakePaymentGateway(PaymentGateway):
    """Plisio as a dict: invoices it created and the status it reports for each."""

    def __init__(self, api_key: str | None = "plisio-test-key") -> None:
        self.api_key = api_key
        self.created: list[NewInvoiceRequest] = []
        self.statuses: dict[str, str] = {}
        self.fetches = 0
        self.unreachable = False

    @property
    def configured(self) -> bool:
        return self.api_key is not None

    def read_callback(self, body: bytes, content_type: str) -> PaymentCallback:
        if self.api_key is None:
            raise PaymentsNotConfigured("payments are not configured")
        return read_callback(body, content_type, self.api_key)

    async def create_invoice(self, request: NewInvoiceRequest) -> CreatedInvoice:
        if self.unreachable:
            raise PaymentProviderError("Plisio could not be reached (ConnectError)")
        self.created.append(request)
        txn_id = f"txn{len(self.created):06d}"
        self.statuses[txn_id] = "new"
        return CreatedInvoice(txn_id=txn_id, invoice_url=f"https://plisio.test/invoice/{txn_id}")

    async def fetch_operation(self, txn_id: str) -> ProviderOperation:
        self.fetches += 1
        if self.unreachable:
            raise PaymentProviderError("Plisio could not be reached (ConnectError)")
        status = self.statuses[txn_id]
        return ProviderOperation(
            txn_id=txn_id, status=status, invoice_status=invoice_status(status)
        )
