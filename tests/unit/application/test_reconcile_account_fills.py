"""Reconciling many accounts at once (a worker taking thousands of new streams), over fakes:
one read of their entries, only accounts with a position asked, a failure stays its own."""

from collections.abc import Collection
from datetime import timedelta

from mimic.application.reconcile_account_fills import ReconcileAccountFills
from mimic.domain.errors import ExchangeUnavailable
from mimic.domain.orders import OrderIntent, OrderLeg
from mimic.domain.protection import protective_prefix
from tests.fakes.protection import InMemoryPositionIntentRepository
from tests.unit.application.test_record_account_fills import Books, executed
from tests.unit.domain.test_signal_protection import signal_with


class CountingPositionIntents(InMemoryPositionIntentRepository):
    def __init__(self, books: Books) -> None:
        super().__init__(books.world.intents)
        self.reads: list[set[str]] = []

    async def latest_entries(self, account_ids: Collection[str]) -> list[OrderIntent]:
        self.reads.append(set(account_ids))
        return await super().latest_entries(account_ids)


async def test_many_accounts_are_reconciled_with_one_read_of_their_entries() -> None:
    books = Books()
    world = books.world
    alice, carol = await world.follower("alice"), await world.follower("carol")
    await world.run(await signal_with(world, tp="2", sl="1"))
    newcomer = await world.follower("newcomer")  # no position Mimic opened: nothing to ask
    [alice_entry] = [e for e in books.legs(OrderLeg.ENTRY) if e.account_id == alice.account.id]
    await executed(alice, protective_prefix(alice_entry.client_order_id) + "tp", "66300")
    carol.exchange.read_error = ExchangeUnavailable("exchange away")
    positions = CountingPositionIntents(books)
    reconcile = ReconcileAccountFills(positions, world.gateways, books.recorder(), world.tx)
    since = world.clock.now() - timedelta(hours=1)

    reconciled = await reconcile(
        [(alice.account, since), (carol.account, since), (newcomer.account, since)], 8
    )

    assert positions.reads == [{alice.account.id, carol.account.id, newcomer.account.id}]
    assert [r.leg for r in reconciled.recorded] == [OrderLeg.TAKE_PROFIT]  # the missed TP
    assert list(reconciled.failed) == [carol.account.id]
    assert ("fetch_fills", "") not in newcomer.exchange.calls
    again = await reconcile([(alice.account, since)], 8)
    assert (again.recorded, again.failed) == ([], {})  # nothing twice
