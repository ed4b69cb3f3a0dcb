"""Plans, invoices, subscriptions, referrals and payouts as the routes and pages show them."""

from mimic.application.payment_history import SubscriptionView
from mimic.application.referrals import ReferralSummary
from mimic.domain.payments import (
    Invoice,
    Payout,
    Plan,
    ReferralCommission,
)
from mimic.entrypoints.http.contract import iso
from mimic.entrypoints.http.payments.schemas import (
    CommissionOut,
    InvoiceOut,
    PayoutOut,
    PlanOut,
    ReferralsOut,
    ReferredUserOut,
    SubscriptionOut,
)


def plan_out(plan: Plan) -> PlanOut:
    return PlanOut(
        id=plan.id,
        name=plan.name,
        price_usd=plan.price_usd,
        duration_days=plan.duration_days,
        max_exchange_connections=plan.max_exchange_connections,
        features=list(plan.features),
        active=plan.active,
        sort_order=plan.sort_order,
    )


def invoice_out(invoice: Invoice) -> InvoiceOut:
    return InvoiceOut(
        id=invoice.id,
        plan_id=invoice.plan_id,
        plan=invoice.plan_name,
        amount_usd=invoice.amount_usd,
        source_currency="USD",
        currency=invoice.currency,
        duration_days=invoice.duration_days,
        status=invoice.status.value,
        invoice_url=invoice.invoice_url,
        provider_txn_id=invoice.provider_txn_id,
        created_at=invoice.created_at.isoformat(),
        updated_at=iso(invoice.updated_at),
        completed_at=iso(invoice.completed_at),
    )


def subscription_out(view: SubscriptionView) -> SubscriptionOut:
    current = view.subscription
    return SubscriptionOut(
        active=view.active,
        plan=None if current is None else current.plan_name,
        plan_id=None if current is None else current.plan_id,
        started_at=None if current is None else current.started_at.isoformat(),
        expires_at=None if current is None else current.expires_at.isoformat(),
    )


def commission_out(commission: ReferralCommission) -> CommissionOut:
    return CommissionOut(
        id=commission.id,
        referred_user_id=commission.referred_user_id,
        invoice_id=commission.invoice_id,
        amount_usd=commission.amount_usd,
        perc=commission.perc,
        created_at=commission.created_at.isoformat(),
        paid=commission.payout_id is not None,
        payout_id=commission.payout_id,
    )


def referrals_out(summary: ReferralSummary) -> ReferralsOut:
    return ReferralsOut(
        referrer_id=summary.referrer.id,
        username=summary.referrer.username,
        referral_code=summary.referrer.referral_code,
        referred=[
            ReferredUserOut(id=u.id, username=u.username, joined_at=u.created_at.isoformat())
            for u in summary.referred
        ],
        commissions=[commission_out(c) for c in summary.commissions],
        earned_usd=summary.earned_usd,
        unpaid_usd=summary.unpaid_usd,
    )


def payout_out(payout: Payout) -> PayoutOut:
    return PayoutOut(
        id=payout.id,
        referrer_id=payout.referrer_id,
        amount_usd=payout.amount_usd,
        commission_ids=list(payout.commission_ids),
        paid_at=payout.paid_at.isoformat(),
        paid_by=payout.paid_by,
    )
