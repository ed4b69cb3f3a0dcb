"""Payment use cases with in-memory adapters: invoices, callbacks, grants, expiry, payouts."""

import asyncio
import json
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from mimic.adapters.plisio.callbacks import signatures
from mimic.application.create_invoice import CreateInvoice, CreateInvoiceCommand, InvoiceOptions
from mimic.application.grant_subscription import GrantSubscription, GrantSubscriptionCommand
from mimic.application.plans import ManagePlans, seed_default_plans
from mimic.application.plisio_callback import HandlePlisioCallback, PlisioCallbackCommand
from mimic.application.referrals import PayOutCommissions, ViewReferrals
from mimic.application.subscription_expiry import RunSubscriptionExpiry
from mimic.domain.accounts import Role, User
from mimic.domain.errors import (
    Conflict,
    DeliveryFailed,
    InvalidField,
    NotFound,
    PaymentProviderError,
    PaymentsNotConfigured,
    TooManyRequests,
)
from mimic.domain.payments import Invoice, InvoiceStatus, PaymentSettings
from tests.fakes.payments import (
    FakePaymentGateway,
    InMemoryInvoiceRepository,
    InMemoryPaymentSettingsRepository,
    InMemoryPlanRepository,
    InMemoryReferralRepository,
    InMemorySubscriptionRepository,
)
from tests.fakes.repositories.audit import InMemoryAuditLog
from tests.fakes.repositories.transactions import FakeTransactionManager
from tests.fakes.repositories.users import InMemoryUserRepository
from tests.fakes.services import FixedClock, RecordingNotifier

D = Decimal
KEY = "plisio-test-key"


@dataclass
class Shop:
    clock: FixedClock = field(default_factory=FixedClock)
    users: InMemoryUserRepository = field(default_factory=InMemoryUserRepository)
    plans: InMemoryPlanRepository = field(default_factory=InMemoryPlanRepository)
    invoices: InMemoryInvoiceRepository = field(default_factory=InMemoryInvoiceRepository)
    subscriptions: InMemorySubscriptionRepository = field(
        default_factory=InMemorySubscriptionRepository
    )
    settings: InMemoryPaymentSettingsRepository = field(
        default_factory=InMemoryPaymentSettingsRepository
    )
    gateway: FakePaymentGateway = field(default_factory=FakePaymentGateway)
    audit: InMemoryAuditLog = field(default_factory=InMemoryAuditLog)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    tx: FakeTransactionManager = field(default_factory=FakeTransactionManager)

    def __post_init__(self) -> None:
        self.referrals = InMemoryReferralRepository(self.users)

    async def user(self, name: str, referred_by: str | None = None) -> User:
        user = User(
            id=f"id-{name}",
            username=name,
            email=f"{name}@example.com",
            password_hash="x",
            role=Role.USER,
            created_at=self.clock.now(),
            referral_code=name.upper(),
            referred_by=referred_by,
        )
        await self.users.add(user)
        return user

    def create(self) -> CreateInvoice:
        return CreateInvoice(
            self.plans,
            self.invoices,
            self.users,
            self.gateway,
            self.tx,
            self.clock,
            InvoiceOptions(callback_url="https://mimic.example/cb?json=true", per_hour=3),
        )

    def handle(self) -> HandlePlisioCallback:
        return HandlePlisioCallback(
            self.invoices,
            self.subscriptions,
            self.referrals,
            self.users,
            self.settings,
            self.gateway,
            self.audit,
            self.notifier,
            self.tx,
            self.clock,
        )

    async def invoice(self, user: User, plan: str = "Basic") -> Invoice:
        return await self.create()(CreateInvoiceCommand(user_id=user.id, plan=plan))

    def callback(self, invoice: Invoice, status: str, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "txn_id": invoice.provider_txn_id,
            "order_number": invoice.id,
            "status": status,
            "source_amount": str(invoice.amount_usd),
            **changes,
        }
        body["verify_hash"] = signatures(body, KEY)[0]
        return body

    async def deliver(self, body: dict[str, Any]) -> Any:
        command = PlisioCallbackCommand(body=json.dumps(body).encode(), ip="203.0.113.9")
        return await self.handle()(command)


@pytest.fixture
async def shop() -> Shop:
    shop = Shop()
    assert await seed_default_plans(shop.plans)
    assert not await seed_default_plans(shop.plans)  # first start only
    return shop


async def test_an_invoice_is_created_at_plisio_then_recorded(shop: Shop) -> None:
    alice = await shop.user("alice")
    invoice = await shop.invoice(alice, plan="pro")  # by name, any case
    [sent] = shop.gateway.created
    assert (sent.order_number, sent.source_amount, sent.source_currency) == (
        invoice.id,
        D("79.00"),
        "USD",
    )
    assert (sent.email, sent.callback_url) == (
        "alice@example.com",
        "https://mimic.example/cb?json=true",
    )
    stored = await shop.invoices.get(invoice.id)
    assert stored is not None
    assert (stored.status, stored.provider_txn_id) == (InvoiceStatus.NEW, "txn000001")


async def test_no_invoice_is_stored_when_plisio_fails_or_payments_are_off(shop: Shop) -> None:
    alice = await shop.user("alice")
    shop.gateway.unreachable = True
    with pytest.raises(PaymentProviderError):
        await shop.invoice(alice)
    shop.gateway.api_key = None
    with pytest.raises(PaymentsNotConfigured):
        await shop.invoice(alice)
    assert shop.invoices.invoices == {}


async def test_a_user_creates_at_most_the_hourly_invoice_quota(shop: Shop) -> None:
    alice, bob = await shop.user("alice"), await shop.user("bob")
    for _ in range(3):
        await shop.invoice(alice)
        shop.clock.advance(timedelta(minutes=5))
    with pytest.raises(TooManyRequests) as caught:
        await shop.invoice(alice)
    assert caught.value.retry_after_seconds == 45 * 60  # when the first is an hour old
    assert len(shop.gateway.created) == 3  # Plisio was not asked
    await shop.invoice(bob)
    shop.clock.advance(timedelta(minutes=45))
    await shop.invoice(alice)


async def test_only_plans_on_sale_can_be_bought(shop: Shop) -> None:
    alice = await shop.user("alice")
    enterprise = await shop.plans.get_by_name("Enterprise")
    assert enterprise is not None
    await ManagePlans(shop.plans, shop.tx).retire(enterprise.id)
    for plan in (enterprise.id, "Gold"):
        with pytest.raises(InvalidField) as error:
            await shop.invoice(alice, plan=plan)
        assert error.value.field == "plan"
    with pytest.raises(InvalidField):
        await shop.create()(CreateInvoiceCommand(alice.id, "Basic", currency="btc; drop"))


async def test_a_completed_callback_extends_once_and_credits_the_referrer_once(
    shop: Shop,
) -> None:
    rita = await shop.user("rita")
    alice = await shop.user("alice", referred_by=rita.id)
    invoice = await shop.invoice(alice)
    assert invoice.provider_txn_id is not None
    shop.gateway.statuses[invoice.provider_txn_id] = "completed"
    body = shop.callback(invoice, "completed")

    outcomes = [await shop.deliver(body)]
    outcomes += await asyncio.gather(*(shop.deliver(body) for _ in range(4)))

    assert [o.activated for o in outcomes] == [True, False, False, False, False]
    subscription = await shop.subscriptions.get(alice.id)
    assert subscription is not None
    assert subscription.expires_at == shop.clock.now() + timedelta(days=30)
    [commission] = shop.referrals.commissions.values()
    assert (commission.referrer_id, commission.amount_usd) == (rita.id, D("2.90"))
    assert shop.notifier.users_told("payment.completed") == [alice.id]
    assert [e.action for e in await shop.audit.list()] == ["payment.completed"]
    assert shop.gateway.fetches == 1  # later deliveries stop at the completed invoice


async def test_no_commission_without_a_referrer_or_at_zero_percent(shop: Shop) -> None:
    rita = await shop.user("rita")
    shop.settings.settings = PaymentSettings(referral_commission_perc=D(0))
    for buyer in (await shop.user("solo"), await shop.user("bob", referred_by=rita.id)):
        invoice = await shop.invoice(buyer)
        assert invoice.provider_txn_id is not None
        shop.gateway.statuses[invoice.provider_txn_id] = "completed"
        assert (await shop.deliver(shop.callback(invoice, "completed"))).activated
    assert shop.referrals.commissions == {}


async def test_tampered_callbacks_are_refused_and_audited(shop: Shop) -> None:
    alice = await shop.user("alice")
    invoice = await shop.invoice(alice)
    assert invoice.provider_txn_id is not None
    shop.gateway.statuses[invoice.provider_txn_id] = "completed"
    tampered = {**shop.callback(invoice, "pending"), "status": "completed"}
    with pytest.raises(InvalidField):
        await shop.deliver(tampered)
    other = await shop.invoice(alice)
    wrong_txn = shop.callback(invoice, "completed", txn_id=other.provider_txn_id)
    with pytest.raises(InvalidField) as error:
        await shop.deliver(wrong_txn)
    assert error.value.field == "txn_id"
    events = await shop.audit.list(action="payment.callback_rejected")
    assert [(e.target, e.ip) for e in events] == [(f"invoice:{invoice.id}", "203.0.113.9")] * 2
    assert await shop.subscriptions.get(alice.id) is None
    assert shop.gateway.fetches == 0


async def test_unknown_invoice_and_unreachable_plisio_change_nothing(shop: Shop) -> None:
    alice = await shop.user("alice")
    invoice = await shop.invoice(alice)
    assert invoice.provider_txn_id is not None
    with pytest.raises(NotFound):
        await shop.deliver(shop.callback(invoice, "completed", order_number="f" * 32))
    shop.gateway.statuses[invoice.provider_txn_id] = "completed"
    shop.gateway.unreachable = True
    with pytest.raises(PaymentProviderError):
        await shop.deliver(shop.callback(invoice, "completed"))
    stored = await shop.invoices.get(invoice.id)
    assert stored is not None
    assert stored.status is InvoiceStatus.NEW
    assert await shop.subscriptions.get(alice.id) is None
    shop.gateway.unreachable = False
    assert (await shop.deliver(shop.callback(invoice, "completed"))).activated


async def test_a_late_payment_of_an_expired_invoice_still_counts(shop: Shop) -> None:
    alice = await shop.user("alice")
    invoice = await shop.invoice(alice)
    assert invoice.provider_txn_id is not None
    shop.gateway.statuses[invoice.provider_txn_id] = "expired"
    assert (await shop.deliver(shop.callback(invoice, "expired"))).status is InvoiceStatus.EXPIRED
    shop.gateway.statuses[invoice.provider_txn_id] = "completed"
    assert (await shop.deliver(shop.callback(invoice, "completed"))).activated
    # ...and nothing moves a completed invoice back.
    shop.gateway.statuses[invoice.provider_txn_id] = "error"
    assert (await shop.deliver(shop.callback(invoice, "error"))).status is InvoiceStatus.COMPLETED


async def test_an_admin_grant_extends_and_is_audited(shop: Shop) -> None:
    alice = await shop.user("alice")
    grant = GrantSubscription(
        shop.users, shop.plans, shop.subscriptions, shop.audit, shop.tx, shop.clock
    )
    with pytest.raises(InvalidField) as error:
        await grant(GrantSubscriptionCommand(admin_id="admin", user_id=alice.id, days=7))
    assert error.value.field == "plan"
    with pytest.raises(InvalidField):
        await grant(GrantSubscriptionCommand("admin", alice.id, days=0, plan="Pro"))
    with pytest.raises(NotFound):
        await grant(GrantSubscriptionCommand("admin", "nobody", days=7, plan="Pro"))
    start = shop.clock.now()
    first = await grant(GrantSubscriptionCommand("admin", alice.id, days=7, plan="Pro"))
    shop.clock.advance(timedelta(days=1))
    second = await grant(GrantSubscriptionCommand("admin", alice.id, days=3))
    assert first.plan_name == second.plan_name == "Pro"
    assert second.expires_at == start + timedelta(days=10)
    events = await shop.audit.list(action="subscription.granted")
    assert [(e.actor_id, e.target, e.details["days"]) for e in events] == [
        ("admin", f"user:{alice.id}", "3"),
        ("admin", f"user:{alice.id}", "7"),
    ]


async def test_the_expiry_job_sends_each_notice_once(shop: Shop) -> None:
    alice = await shop.user("alice")
    grant = GrantSubscription(
        shop.users, shop.plans, shop.subscriptions, shop.audit, shop.tx, shop.clock
    )
    subscription = await grant(GrantSubscriptionCommand("admin", alice.id, days=5, plan="Basic"))
    job = RunSubscriptionExpiry(shop.subscriptions, shop.notifier, shop.tx, shop.clock)

    shop.clock.set(subscription.expires_at - timedelta(days=3, microseconds=1))
    assert (await job()).expiring == []
    shop.clock.set(subscription.expires_at - timedelta(days=3))
    assert (await job()).expiring == [alice.id]
    assert (await job()).expiring == []
    shop.clock.set(subscription.expires_at)
    rounds = [await job(), await job()]
    assert [r.expired for r in rounds] == [[alice.id], []]
    assert [e for _, e, _ in shop.notifier.sent] == [
        "subscription.expiring",
        "subscription.expired",
    ]


async def test_payouts_mark_unpaid_commissions_once(shop: Shop) -> None:
    rita = await shop.user("rita")
    for name in ("alice", "bob"):
        buyer = await shop.user(name, referred_by=rita.id)
        invoice = await shop.invoice(buyer, plan="Pro")
        assert invoice.provider_txn_id is not None
        shop.gateway.statuses[invoice.provider_txn_id] = "completed"
        await shop.deliver(shop.callback(invoice, "completed"))
    summary = await ViewReferrals(shop.referrals, shop.users).mine(rita)
    assert [u.username for u in summary.referred] == ["alice", "bob"]
    assert (summary.earned_usd, summary.unpaid_usd) == (D("15.80"), D("15.80"))

    pay = PayOutCommissions(shop.referrals, shop.users, shop.audit, shop.tx, shop.clock)
    payout = await pay("admin", rita.id)
    assert payout.amount_usd == D("15.80")
    with pytest.raises(Conflict):
        await pay("admin", rita.id)
    summary = await ViewReferrals(shop.referrals, shop.users).mine(rita)
    assert (summary.earned_usd, summary.unpaid_usd) == (D("15.80"), D(0))
    [listed] = await ViewReferrals(shop.referrals, shop.users).all_referrers()
    assert listed.referrer.id == rita.id


class FailingFirstNotifier(RecordingNotifier):
    async def notify(self, user_id: str, event: str, text: str) -> None:
        if not self.sent:
            self.sent.append((user_id, "failed", text))
            raise DeliveryFailed("the chat is unreachable")
        await super().notify(user_id, event, text)


async def test_a_failing_notice_neither_stops_the_job_nor_fails_a_payment(shop: Shop) -> None:
    shop.notifier = FailingFirstNotifier()
    grant = GrantSubscription(
        shop.users, shop.plans, shop.subscriptions, shop.audit, shop.tx, shop.clock
    )
    for name in ("alice", "bob"):
        await grant(GrantSubscriptionCommand("admin", (await shop.user(name)).id, 1, "Basic"))
    job = RunSubscriptionExpiry(shop.subscriptions, shop.notifier, shop.tx, shop.clock)
    assert sorted((await job()).expiring) == ["id-alice", "id-bob"]
    assert len(shop.notifier.users_told("subscription.expiring")) == 1  # the other one failed

    carol = await shop.user("carol")
    invoice = await shop.invoice(carol)
    assert invoice.provider_txn_id is not None
    shop.gateway.statuses[invoice.provider_txn_id] = "completed"
    assert (await shop.deliver(shop.callback(invoice, "completed"))).activated
    assert shop.notifier.users_told("payment.completed") == [carol.id]
