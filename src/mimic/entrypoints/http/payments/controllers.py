"""Payment routes: plans, Plisio invoices and callback, subscriptions, referrals."""

from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from mimic.application.create_invoice import CreateInvoice, CreateInvoiceCommand
from mimic.application.grant_subscription import GrantSubscription, GrantSubscriptionCommand
from mimic.application.payment_history import ViewPayments
from mimic.application.payment_settings import ManagePaymentSettings
from mimic.application.plans import ManagePlans, PlanSpec
from mimic.application.plisio_callback import HandlePlisioCallback, PlisioCallbackCommand
from mimic.application.referrals import PayOutCommissions, ViewReferrals
from mimic.domain.payments import (
    PaymentSettings,
)
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.accounts.schemas import SubscriptionGrant
from mimic.entrypoints.http.contract import PLISIO_CALLBACK_BODY, errors
from mimic.entrypoints.http.payments.schemas import (
    CallbackAck,
    InvoiceOut,
    InvoiceRequest,
    PaymentSettingsBody,
    PayoutOut,
    PlanBody,
    PlanOut,
    ReferralsOut,
    SubscriptionOut,
)
from mimic.entrypoints.http.payments.views import (
    invoice_out,
    payout_out,
    plan_out,
    referrals_out,
    subscription_out,
)
from mimic.entrypoints.http.security import AuthRequest, admin_only
from mimic.entrypoints.http.web_security import client_ip

CALLBACK_MAX_BODY = 64 * 1024


def _spec(data: PlanBody) -> PlanSpec:
    return PlanSpec(
        name=data.name,
        price_usd=data.price_usd,
        duration_days=data.duration_days,
        max_exchange_connections=data.max_exchange_connections,
        features=tuple(data.features),
        active=data.active,
        sort_order=data.sort_order,
    )


class PaymentsController(Controller):
    path = "/api/payments"

    @get("/plans", operation_id="list_plans")
    async def plans(self, manage: FromDishka[ManagePlans]) -> list[PlanOut]:
        return [plan_out(p) for p in await manage.list()]

    @post(
        "/invoices",
        operation_id="create_invoice",
        status_code=201,
        responses=errors(404, 429, 502, 503),
    )
    async def create_invoice(
        self,
        request: AuthRequest,
        data: JSONBody[InvoiceRequest],
        create: FromDishka[CreateInvoice],
    ) -> InvoiceOut:
        invoice = await create(
            CreateInvoiceCommand(user_id=request.user.id, plan=data.plan, currency=data.currency)
        )
        return invoice_out(invoice)

    @get("/invoices/{invoice_id:str}", operation_id="get_invoice")
    async def get_invoice(
        self, request: AuthRequest, invoice_id: FromPath[str], view: FromDishka[ViewPayments]
    ) -> InvoiceOut:
        return invoice_out(await view.invoice(request.user.id, invoice_id))

    @get("/", operation_id="payment_history")
    async def history(
        self, request: AuthRequest, view: FromDishka[ViewPayments]
    ) -> list[InvoiceOut]:
        return [invoice_out(i) for i in await view.history(request.user.id)]

    @post(
        "/plisio/callback",
        operation_id="plisio_callback",
        status_code=200,
        request_max_body_size=CALLBACK_MAX_BODY,
        operation_class=PLISIO_CALLBACK_BODY,
        responses=errors(404, 422, 502, 503),
    )
    async def plisio_callback(
        self,
        request: Request[Any, Any, Any],
        handle: FromDishka[HandlePlisioCallback],
        settings: FromDishka[Settings],
    ) -> CallbackAck:
        # Raw bytes: the signature covers the body's own text (the Plisio adapter reads it).
        command = PlisioCallbackCommand(
            body=await request.body(),
            content_type=request.headers.get("content-type", ""),
            ip=client_ip(request, settings.trusted_proxies),
        )
        outcome = await handle(command)
        return CallbackAck(
            status="ok",
            invoice_id=outcome.invoice_id,
            invoice_status=outcome.status.value,
            activated=outcome.activated,
        )


class SubscriptionController(Controller):
    path = "/api/subscription"

    @get("/", operation_id="my_subscription")
    async def mine(self, request: AuthRequest, view: FromDishka[ViewPayments]) -> SubscriptionOut:
        return subscription_out(await view.subscription(request.user.id))


class ReferralController(Controller):
    path = "/api/referrals"

    @get("/", operation_id="my_referrals")
    async def mine(self, request: AuthRequest, view: FromDishka[ViewReferrals]) -> ReferralsOut:
        return referrals_out(await view.mine(request.user))


class AdminPaymentsController(Controller):
    path = "/api/admin"
    guards = [admin_only]  # noqa: RUF012

    @get("/plans", operation_id="admin_list_plans")
    async def list_plans(self, manage: FromDishka[ManagePlans]) -> list[PlanOut]:
        return [plan_out(p) for p in await manage.list(include_inactive=True)]

    @post("/plans", operation_id="admin_create_plan", status_code=201, responses=errors(409))
    async def create_plan(
        self, data: JSONBody[PlanBody], manage: FromDishka[ManagePlans]
    ) -> PlanOut:
        return plan_out(await manage.create(_spec(data)))

    @put("/plans/{plan_id:str}", operation_id="admin_replace_plan", responses=errors(409))
    async def replace_plan(
        self, plan_id: FromPath[str], data: JSONBody[PlanBody], manage: FromDishka[ManagePlans]
    ) -> PlanOut:
        return plan_out(await manage.replace(plan_id, _spec(data)))

    @delete(
        "/plans/{plan_id:str}", operation_id="admin_retire_plan", status_code=HTTP_204_NO_CONTENT
    )
    async def retire_plan(self, plan_id: FromPath[str], manage: FromDishka[ManagePlans]) -> None:
        await manage.retire(plan_id)

    @post(
        "/users/{user_id:str}/subscription",
        operation_id="admin_grant_subscription",
        status_code=200,
    )
    async def grant(
        self,
        request: AuthRequest,
        user_id: FromPath[str],
        data: JSONBody[SubscriptionGrant],
        grant: FromDishka[GrantSubscription],
        view: FromDishka[ViewPayments],
        settings: FromDishka[Settings],
    ) -> SubscriptionOut:
        await grant(
            GrantSubscriptionCommand(
                admin_id=request.user.id,
                user_id=user_id,
                days=data.days,
                plan=data.plan,
                ip=client_ip(request, settings.trusted_proxies),
            )
        )
        return subscription_out(await view.subscription(user_id))

    @get("/referrals", operation_id="admin_list_referrals")
    async def referrals(self, view: FromDishka[ViewReferrals]) -> list[ReferralsOut]:
        return [referrals_out(s) for s in await view.all_referrers()]

    @post(
        "/referrals/{referrer_id:str}/payout",
        operation_id="admin_referral_payout",
        status_code=201,
        responses=errors(409),
    )
    async def payout(
        self,
        request: AuthRequest,
        referrer_id: FromPath[str],
        pay_out: FromDishka[PayOutCommissions],
        settings: FromDishka[Settings],
    ) -> PayoutOut:
        ip = client_ip(request, settings.trusted_proxies)
        return payout_out(await pay_out(request.user.id, referrer_id, ip))

    @get("/settings/payments", operation_id="get_payment_settings")
    async def get_settings(self, manage: FromDishka[ManagePaymentSettings]) -> PaymentSettingsBody:
        value = await manage.get()
        return PaymentSettingsBody(
            referral_commission_perc=value.referral_commission_perc,
            require_subscription=value.require_subscription,
        )

    @put("/settings/payments", operation_id="put_payment_settings")
    async def put_settings(
        self, data: JSONBody[PaymentSettingsBody], manage: FromDishka[ManagePaymentSettings]
    ) -> PaymentSettingsBody:
        value = await manage.replace(
            PaymentSettings(
                referral_commission_perc=data.referral_commission_perc,
                require_subscription=data.require_subscription,
            )
        )
        return PaymentSettingsBody(
            referral_commission_perc=value.referral_commission_perc,
            require_subscription=value.require_subscription,
        )


PAYMENT_ROUTE_HANDLERS = [
    PaymentsController,
    SubscriptionController,
    ReferralController,
    AdminPaymentsController,
]
