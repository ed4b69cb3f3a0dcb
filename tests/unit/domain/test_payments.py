"""The payment rules with hand-checked numbers: periods, transitions, commission, signature."""

from datetime import timedelta
from decimal import Decimal

import pytest

from mimic.domain.errors import Conflict, InvalidField
from mimic.domain.orders import OrderLeg, OrderSide
from mimic.domain.payments import (
    InvoiceStatus,
    PaymentSettings,
    Plan,
    ReferralCommission,
    Subscription,
    commission_amount,
    extend_subscription,
    may_transition,
    needs_expired_notice,
    needs_expiring_notice,
    new_payout,
    skip_entries,
    statuses_that_may_become,
)
from mimic.domain.planning import PlannedLeg
from tests.fakes.services import START

D = Decimal


def subscription(expires_in: timedelta) -> Subscription:
    return Subscription(
        user_id="u1",
        plan_id="p1",
        plan_name="Basic",
        started_at=START - timedelta(days=20),
        expires_at=START + expires_in,
    )


def extend(current: Subscription | None, days: int = 30) -> Subscription:
    return extend_subscription(
        current, user_id="u1", plan_id="p2", plan_name="Pro", days=days, now=START
    )


def test_a_first_subscription_runs_from_now() -> None:
    new = extend(None)
    assert (new.started_at, new.expires_at) == (START, START + timedelta(days=30))
    assert new.plan_name == "Pro"


def test_a_renewal_before_expiry_extends_from_the_current_expiry() -> None:
    current = subscription(timedelta(days=5))
    renewed = extend(current)
    assert renewed.expires_at == START + timedelta(days=35)
    assert renewed.started_at == current.started_at
    assert renewed.plan_name == "Pro"


def test_a_renewal_after_expiry_starts_from_now() -> None:
    renewed = extend(subscription(-timedelta(days=2)))
    assert (renewed.started_at, renewed.expires_at) == (START, START + timedelta(days=30))


def test_the_expiry_instant_itself_is_already_expired() -> None:
    current = subscription(timedelta(0))
    assert not current.is_active(START)
    assert current.is_active(START - timedelta(microseconds=1))
    assert extend(current).expires_at == START + timedelta(days=30)  # from now, not added


def test_extension_needs_a_positive_number_of_days() -> None:
    with pytest.raises(InvalidField):
        extend(None, days=0)


def test_notices_three_days_before_and_at_expiry_once_per_expiry_date() -> None:
    current = subscription(timedelta(days=3, seconds=1))
    assert not needs_expiring_notice(current, START)
    assert needs_expiring_notice(current, START + timedelta(seconds=1))
    current.expiring_notice_for = current.expires_at
    assert not needs_expiring_notice(current, START + timedelta(seconds=1))
    assert not needs_expired_notice(current, current.expires_at - timedelta(microseconds=1))
    assert needs_expired_notice(current, current.expires_at)
    current.expired_notice_for = current.expires_at
    assert not needs_expired_notice(current, current.expires_at + timedelta(days=1))
    # A renewal moves the expiry date: the next period gets its own notices.
    renewed = extend_subscription(
        current, user_id="u1", plan_id="p1", plan_name="Basic", days=30, now=START
    )
    assert needs_expiring_notice(renewed, renewed.expires_at - timedelta(days=1))


def test_a_completed_invoice_never_changes_again() -> None:
    for target in InvoiceStatus:
        assert not may_transition(InvoiceStatus.COMPLETED, target)
    assert may_transition(InvoiceStatus.NEW, InvoiceStatus.PENDING)
    assert may_transition(InvoiceStatus.PENDING, InvoiceStatus.EXPIRED)
    assert may_transition(InvoiceStatus.EXPIRED, InvoiceStatus.COMPLETED)  # paid late
    assert not may_transition(InvoiceStatus.EXPIRED, InvoiceStatus.PENDING)
    assert not may_transition(InvoiceStatus.PENDING, InvoiceStatus.PENDING)
    assert InvoiceStatus.COMPLETED not in statuses_that_may_become(InvoiceStatus.COMPLETED)
    assert statuses_that_may_become(InvoiceStatus.EXPIRED) == {
        InvoiceStatus.NEW,
        InvoiceStatus.PENDING,
    }


@pytest.mark.parametrize(
    ("amount", "perc", "expected"),
    [
        ("29", "10", "2.90"),
        ("79", "12.5", "9.88"),  # 9.875 -> half-even: 9.88 (8 is even)
        ("0.45", "10", "0.04"),  # 0.045 -> half-even: 0.04
        ("0.55", "10", "0.06"),  # 0.055 -> half-even: 0.06
        ("199", "33.3333", "66.33"),  # 66.3332667
        ("29", "0", "0.00"),
        ("29", "100", "29.00"),
    ],
)
def test_commission_is_rounded_to_cents_half_even(amount: str, perc: str, expected: str) -> None:
    assert commission_amount(D(amount), D(perc)) == D(expected)


def test_payment_settings_bounds() -> None:
    assert PaymentSettings(referral_commission_perc=D(100)).referral_commission_perc == 100
    for bad in ("-1", "100.01", "NaN"):
        with pytest.raises(InvalidField):
            PaymentSettings(referral_commission_perc=D(bad))


def test_plan_validation() -> None:
    good = {"id": "p", "name": " Pro ", "price_usd": D("79.00"), "duration_days": 30}
    assert Plan(**good, max_exchange_connections=3).name == "Pro"
    for change, field in [
        ({"price_usd": D("0")}, "price_usd"),
        ({"price_usd": D("1.005")}, "price_usd"),
        ({"duration_days": 0}, "duration_days"),
        ({"name": "  "}, "name"),
    ]:
        with pytest.raises(InvalidField) as error:
            Plan(**{**good, **change}, max_exchange_connections=3)  # type: ignore[arg-type]
        assert error.value.field == field


def test_without_a_subscription_only_closing_legs_remain() -> None:
    close = PlannedLeg(OrderLeg.CLOSE, OrderSide.BUY, D("0.5"), reduce_only=True)
    entry = PlannedLeg(OrderLeg.ENTRY, OrderSide.SELL, D("0.3"), reduce_only=False, leverage=5)
    kept_close, skipped = skip_entries([close, entry], "no active subscription")
    assert kept_close is close
    assert (skipped.leg, skipped.side, skipped.quantity) == (OrderLeg.ENTRY, OrderSide.SELL, 0)
    assert skipped.skip_reason == "no active subscription"


def commission(cid: str, amount: str, referrer: str = "r1") -> ReferralCommission:
    return ReferralCommission(
        id=cid,
        referrer_id=referrer,
        referred_user_id="u",
        invoice_id=f"inv-{cid}",
        amount_usd=D(amount),
        perc=D(10),
        created_at=START,
    )


def test_a_payout_sums_the_unpaid_commissions_of_one_referrer() -> None:
    payout = new_payout(
        payout_id="po",
        referrer_id="r1",
        unpaid=[commission("a", "2.90"), commission("b", "7.90")],
        now=START,
        by="admin",
    )
    assert (payout.amount_usd, payout.commission_ids) == (D("10.80"), ("a", "b"))
    with pytest.raises(Conflict):
        new_payout(payout_id="po", referrer_id="r1", unpaid=[], now=START, by="admin")
    with pytest.raises(Conflict):
        new_payout(
            payout_id="po", referrer_id="r1", unpaid=[commission("c", "1", "r2")], now=START, by="a"
        )
