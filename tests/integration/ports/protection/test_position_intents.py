"""The PositionIntentRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from datetime import timedelta

from mimic.adapters.sqlalchemy.statements import CHUNK_SIZE
from mimic.domain.orders import IntentStatus, OrderLeg
from tests.integration.ports.rows import HUGE, NOW, TINY, WINDOW, make_intent, make_signal, new_id
from tests.integration.ports.stores import Store


async def test_latest_entries_of_open_positions_match_the_monitors_read(store: Store) -> None:
    account_id = new_id()
    entries = []
    for n, (symbol, status) in enumerate(
        [
            ("BTCUSDT", IntentStatus.FILLED),
            ("BTCUSDT", IntentStatus.FILLED),
            ("BTCUSDT", IntentStatus.REJECTED),  # newest, but it opened nothing
            ("ETHUSDT", IntentStatus.FILLED),
        ]
    ):
        signal = make_signal(new_id(), symbol=symbol, received_at=NOW + timedelta(minutes=n))
        async with store.unit() as repos:
            await repos.signals.add_unless_duplicate(signal, expiring_after=NOW - WINDOW)
        entry = make_intent(signal, account_id)
        entry.created_at = NOW + timedelta(minutes=n)
        entry.status = status
        entries.append(entry)
    async with store.unit() as repos:
        await repos.intents.add_new(entries)
    async with store.unit() as repos:
        shown = await repos.positions.latest_entries_of(
            [(account_id, "BTCUSDT"), (account_id, "SOLUSDT")]
        )
        monitored = await repos.positions.latest_entries([account_id])
    assert [e.id for e in shown] == [entries[1].id]
    assert [e.id for e in monitored] == [entries[1].id, entries[3].id]


async def test_protective_orders_are_added_once_and_found_by_exchange_id(store: Store) -> None:
    signal = make_signal("id:protected")
    async with store.unit() as repos:
        await repos.signals.add_unless_duplicate(signal, expiring_after=NOW - WINDOW)
    entry = make_intent(signal, new_id())
    entry.status = IntentStatus.FILLED
    stop = make_intent(signal, entry.account_id, OrderLeg.CLOSE)
    stop.parent_id = entry.id
    stop.exchange_order_id = "x-stop"
    async with store.unit() as repos:
        await repos.intents.add_new([entry])
        assert await repos.positions.add_if_absent(stop, lease_until=None) is True
        assert await repos.positions.add_if_absent(stop, lease_until=None) is False
    async with store.unit() as repos:
        assert [c.id for c in await repos.positions.children([entry.id])] == [stop.id]
        assert await repos.positions.has_exchange_order(entry.account_id, "x-stop") is True
        assert await repos.positions.has_exchange_order(entry.account_id, "x-other") is False


async def test_protection_prices_or_their_error_are_saved_on_the_entry(store: Store) -> None:
    signal = make_signal("id:tp-sl")
    async with store.unit() as repos:
        await repos.signals.add_unless_duplicate(signal, expiring_after=NOW - WINDOW)
    protected, failed = make_intent(signal, new_id()), make_intent(signal, new_id())
    async with store.unit() as repos:
        await repos.intents.add_new([protected, failed])
    protected.stop_loss_price, protected.take_profit_price = HUGE, TINY
    failed.protection_error = "stop price would trigger immediately"
    async with store.unit() as repos:
        await repos.positions.save_protection([protected, failed])
    async with store.unit() as repos:
        stored = {i.id: i for i in await repos.intents.list_for_signal(signal.id)}
    assert (stored[protected.id].stop_loss_price, stored[protected.id].take_profit_price) == (
        HUGE,
        TINY,
    )
    assert stored[protected.id].protection_error is None
    assert stored[failed.id].protection_error == "stop price would trigger immediately"
    assert stored[failed.id].stop_loss_price is None


async def test_latest_entries_of_many_accounts_are_read_in_one_call(store: Store) -> None:
    """The reconciliation of a batch of new streams reads them so: accounts with positions
    among many without, more than one SQL chunk of them."""
    signals = [
        make_signal(new_id(), symbol=symbol, received_at=NOW + timedelta(minutes=n))
        for n, symbol in enumerate(["BTCUSDT", "ETHUSDT", "BTCUSDT"])
    ]
    async with store.unit() as repos:
        for signal in signals:
            await repos.signals.add_unless_duplicate(signal, expiring_after=NOW - WINDOW)
    holders = [new_id() for _ in range(3)]
    entries = []
    for account_id in holders:
        for n, signal in enumerate(signals):
            entry = make_intent(signal, account_id)
            entry.created_at = NOW + timedelta(minutes=n)
            entry.status = IntentStatus.FILLED
            entries.append(entry)
    async with store.unit() as repos:
        await repos.intents.add_new(entries)
    newcomers = [new_id() for _ in range(CHUNK_SIZE)]
    async with store.unit() as repos:
        found = await repos.positions.latest_entries([*newcomers, *holders])
    # Per account: ETHUSDT's entry and BTCUSDT's later one.
    assert {e.id for e in found} == {e.id for e in entries if e.signal_id != signals[0].id}
    assert len(found) == 2 * len(holders)
