"""What the payment contract tests start from: a referrer, the buyer they referred, a plan
and the buyer's invoice, stored in one unit of work."""

from dataclasses import dataclass
from decimal import Decimal

from mimic.domain.accounts import User
from mimic.domain.payments import Invoice, Plan
from tests.integration.ports.rows import NOW, make_user, new_id
from tests.integration.ports.stores import Store


@dataclass(frozen=True, slots=True)
class Shop:
    referrer: User
    buyer: User
    plan: Plan
    invoice: Invoice


async def open_shop(store: Store) -> Shop:
    rita = make_user("rita", referral_code="RITA")
    alice = make_user("alice", referral_code="ALICE", referred_by=rita.id)
    plan = Plan(new_id(), "Pro", Decimal("79.00"), 30, 3, ("a", "b"))
    invoice = Invoice(
        id=new_id(),
        user_id=alice.id,
        plan_id=plan.id,
        plan_name=plan.name,
        amount_usd=plan.price_usd,
        duration_days=30,
        currency="BTC",
        created_at=NOW,
        provider_txn_id="txn-1",
        invoice_url="https://plisio.net/invoice/txn-1",
    )
    async with store.unit() as repos:
        await repos.users.add(rita)
        await repos.users.add(alice)
        await repos.plans.add(plan)
        await repos.invoices.add(invoice)
    return Shop(rita, alice, plan, invoice)
