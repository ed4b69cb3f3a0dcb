"""Plans, invoices, subscriptions and referral commissions: the rules money follows.

Everything here is pure: times are passed in, amounts are `Decimal`, nothing is stored.
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from mimic.domain.errors import Conflict, InvalidField
from mimic.domain.orders import OrderLeg
from mimic.domain.planning import PlannedLeg

CENT = Decimal("0.01")
MAX_PLAN_PRICE = Decimal(1_000_000)
MAX_PLAN_DAYS = 3660
MAX_GRANT_DAYS = 3660
EXPIRY_NOTICE = timedelta(days=3)
NO_SUBSCRIPTION_REASON = "no active subscription"


@dataclass(slots=True)
class Plan:
    """What a follower buys: `duration_days` of copying for `price_usd`."""

    id: str
    name: str
    price_usd: Decimal
    duration_days: int
    max_exchange_connections: int
    features: tuple[str, ...] = ()
    active: bool = True
    sort_order: int = 0

    def __post_init__(self) -> None:
        self.name = self.name.strip()
        if not 1 <= len(self.name) <= 50:
            raise InvalidField("name", "must be 1-50 characters")
        if not self.price_usd.is_finite() or not 0 < self.price_usd <= MAX_PLAN_PRICE:
            raise InvalidField("price_usd", f"must be greater than 0 and at most {MAX_PLAN_PRICE}")
        if self.price_usd != self.price_usd.quantize(CENT):
            raise InvalidField("price_usd", "must have at most two decimals (cents)")
        if not 1 <= self.duration_days <= MAX_PLAN_DAYS:
            raise InvalidField("duration_days", f"must be a whole number from 1 to {MAX_PLAN_DAYS}")
        if not 1 <= self.max_exchange_connections <= 1000:
            raise InvalidField("max_exchange_connections", "must be a whole number from 1 to 1000")
        if len(self.features) > 20 or any(not 1 <= len(f) <= 200 for f in self.features):
            raise InvalidField("features", "at most 20 entries of 1-200 characters each")


# The legacy platform sold Basic, Pro and Enterprise; seeded once on first start.
DEFAULT_PLANS: tuple[tuple[str, Decimal, int, int, tuple[str, ...]], ...] = (
    ("Basic", Decimal("29.00"), 30, 1, ("copy trading on 1 exchange connection",)),
    ("Pro", Decimal("79.00"), 30, 3, ("copy trading on up to 3 exchange connections",)),
    (
        "Enterprise",
        Decimal("199.00"),
        30,
        10,
        ("copy trading on up to 10 exchange connections", "priority support"),
    ),
)


class InvoiceStatus(enum.StrEnum):
    NEW = "new"
    PENDING = "pending"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    ERROR = "error"

    @property
    def is_final(self) -> bool:
        return self is not InvoiceStatus.NEW and self is not InvoiceStatus.PENDING


@dataclass(slots=True)
class Invoice:
    """One attempt to pay for a plan; `id` is also the order_number Plisio knows it by."""

    id: str
    user_id: str
    plan_id: str
    plan_name: str
    amount_usd: Decimal
    duration_days: int
    currency: str | None
    created_at: datetime
    status: InvoiceStatus = InvoiceStatus.NEW
    provider_txn_id: str | None = None
    invoice_url: str | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None


def may_transition(current: InvoiceStatus, target: InvoiceStatus) -> bool:
    """A completed invoice never changes again; other final states only to completed.

    An expired invoice may still be paid late (Plisio then reports it completed), so
    completion is accepted from any state but completed itself.
    """
    if current is InvoiceStatus.COMPLETED:
        return False
    if target is InvoiceStatus.COMPLETED:
        return True
    return not current.is_final and target is not current


def statuses_that_may_become(target: InvoiceStatus) -> frozenset[InvoiceStatus]:
    return frozenset(s for s in InvoiceStatus if may_transition(s, target))


@dataclass(slots=True)
class Subscription:
    """A user's paid access; active while `now < expires_at`.

    `expiring_notice_for` / `expired_notice_for` hold the expiry a notice was sent for, so
    each notice goes out once per expiry date, and again after a renewal moves the date.
    """

    user_id: str
    plan_id: str | None
    plan_name: str
    started_at: datetime
    expires_at: datetime
    expiring_notice_for: datetime | None = None
    expired_notice_for: datetime | None = None

    def is_active(self, now: datetime) -> bool:
        return now < self.expires_at


def extend_subscription(
    current: Subscription | None,
    *,
    user_id: str,
    plan_id: str | None,
    plan_name: str,
    days: int,
    now: datetime,
) -> Subscription:
    """Activate or extend: a renewal before expiry adds to the current expiry, after it
    starts from now. The plan becomes the one just paid for."""
    if days < 1:
        raise InvalidField("days", "must be at least 1")
    if current is None or not current.is_active(now):
        return Subscription(
            user_id=user_id,
            plan_id=plan_id,
            plan_name=plan_name,
            started_at=now,
            expires_at=now + timedelta(days=days),
            expiring_notice_for=None if current is None else current.expiring_notice_for,
            expired_notice_for=None if current is None else current.expired_notice_for,
        )
    return Subscription(
        user_id=user_id,
        plan_id=plan_id,
        plan_name=plan_name,
        started_at=current.started_at,
        expires_at=current.expires_at + timedelta(days=days),
        expiring_notice_for=current.expiring_notice_for,
        expired_notice_for=current.expired_notice_for,
    )


def needs_expiring_notice(subscription: Subscription, now: datetime) -> bool:
    """Within the last three days before expiry and not told yet for this expiry."""
    return (
        subscription.is_active(now)
        and subscription.expires_at - now <= EXPIRY_NOTICE
        and subscription.expiring_notice_for != subscription.expires_at
    )


def needs_expired_notice(subscription: Subscription, now: datetime) -> bool:
    return (
        not subscription.is_active(now)
        and subscription.expired_notice_for != subscription.expires_at
    )


@dataclass(frozen=True, slots=True)
class PaymentSettings:
    """Admin settings: the referrer's share of each payment, and whether copying needs a
    subscription."""

    referral_commission_perc: Decimal = Decimal(10)
    require_subscription: bool = False

    def __post_init__(self) -> None:
        perc = self.referral_commission_perc
        if not perc.is_finite() or not 0 <= perc <= 100:
            raise InvalidField("referral_commission_perc", "must be from 0 to 100")


def commission_amount(amount_usd: Decimal, perc: Decimal) -> Decimal:
    """The referrer's share, rounded to cents half-to-even (banker's rounding), so that
    rounding errors do not drift in one direction over many payments."""
    return (amount_usd * perc / 100).quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(slots=True)
class ReferralCommission:
    id: str
    referrer_id: str
    referred_user_id: str
    invoice_id: str
    amount_usd: Decimal
    perc: Decimal
    created_at: datetime
    payout_id: str | None = None


@dataclass(frozen=True, slots=True)
class Payout:
    """Commissions paid out to a referrer at once, marked by an admin."""

    id: str
    referrer_id: str
    amount_usd: Decimal
    commission_ids: tuple[str, ...]
    paid_at: datetime
    paid_by: str


def new_payout(
    *, payout_id: str, referrer_id: str, unpaid: list[ReferralCommission], now: datetime, by: str
) -> Payout:
    if not unpaid:
        raise Conflict("this referrer has no unpaid commission")
    if any(c.referrer_id != referrer_id or c.payout_id is not None for c in unpaid):
        raise Conflict("only the referrer's unpaid commissions can be paid out")
    return Payout(
        id=payout_id,
        referrer_id=referrer_id,
        amount_usd=sum((c.amount_usd for c in unpaid), Decimal(0)),
        commission_ids=tuple(c.id for c in unpaid),
        paid_at=now,
        paid_by=by,
    )


def skip_entries(legs: list[PlannedLeg], reason: str) -> list[PlannedLeg]:
    """Without a subscription a follower opens nothing new; closing legs still go through,
    so nobody is left in a position copying opened."""
    return [
        leg
        if leg.leg is OrderLeg.CLOSE
        else PlannedLeg(
            leg=leg.leg,
            side=leg.side,
            quantity=Decimal(0),
            reduce_only=False,
            skip_reason=reason,
        )
        for leg in legs
    ]
