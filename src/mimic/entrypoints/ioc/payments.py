"""dishka providers for payments: Plisio (APP scope) and the payment use cases (REQUEST)."""

from collections.abc import AsyncIterator

import httpx
from dishka import Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.plisio.gateway import PlisioGateway
from mimic.adapters.sqlalchemy.payments import (
    SqlInvoiceRepository,
    SqlPaymentSettingsRepository,
    SqlPlanRepository,
    SqlReferralRepository,
    SqlSubscriptionRepository,
)
from mimic.application.create_invoice import CreateInvoice, InvoiceOptions
from mimic.application.grant_subscription import GrantSubscription
from mimic.application.payment_history import ViewPayments
from mimic.application.payment_settings import ManagePaymentSettings, SubscriptionGate
from mimic.application.plans import ManagePlans
from mimic.application.plisio_callback import HandlePlisioCallback
from mimic.application.referrals import PayOutCommissions, ViewReferrals
from mimic.application.subscription_expiry import RunSubscriptionExpiry
from mimic.domain.payments import PaymentSettings
from mimic.entrypoints.config import Settings
from mimic.ports.payments import (
    InvoiceRepository,
    PaymentGateway,
    PaymentSettingsRepository,
    PlanRepository,
    ReferralRepository,
    SubscriptionRepository,
)


class PaymentGatewayProvider(Provider):
    """APP scope: one HTTP client for Plisio per process; tests override this provider."""

    scope = Scope.APP

    @provide
    async def plisio(self, settings: Settings) -> AsyncIterator[PaymentGateway]:
        timeout = settings.plisio_timeout.total_seconds()
        async with httpx.AsyncClient(timeout=timeout) as client:
            yield PlisioGateway(client, settings.plisio_api_key, settings.plisio_base_url)

    @provide
    def invoice_options(self, settings: Settings) -> InvoiceOptions:
        return InvoiceOptions(
            callback_url=settings.plisio_callback_url,
            expire_min=settings.plisio_invoice_expire_min,
            per_hour=settings.quotas.invoices_per_hour,
        )


class PaymentsProvider(Provider):
    scope = Scope.REQUEST

    plans = provide(SqlPlanRepository, provides=PlanRepository)
    invoices = provide(SqlInvoiceRepository, provides=InvoiceRepository)
    subscriptions = provide(SqlSubscriptionRepository, provides=SubscriptionRepository)
    referrals = provide(SqlReferralRepository, provides=ReferralRepository)

    @provide
    def payment_settings(
        self, session: AsyncSession, settings: Settings
    ) -> PaymentSettingsRepository:
        defaults = PaymentSettings(
            referral_commission_perc=settings.referral_commission_perc,
            require_subscription=settings.require_subscription,
        )
        return SqlPaymentSettingsRepository(session, defaults)

    manage_plans = provide(ManagePlans)
    create_invoice = provide(CreateInvoice)
    plisio_callback = provide(HandlePlisioCallback)
    view_payments = provide(ViewPayments)
    grant_subscription = provide(GrantSubscription)
    subscription_expiry = provide(RunSubscriptionExpiry)
    view_referrals = provide(ViewReferrals)
    pay_out = provide(PayOutCommissions)
    manage_payment_settings = provide(ManagePaymentSettings)
    subscription_gate = provide(SubscriptionGate)
