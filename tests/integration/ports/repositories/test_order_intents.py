"""The OrderIntentRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from datetime import timedelta

from mimic.domain.fanout import FanoutPart
from mimic.domain.orders import IntentStatus, OrderFill, OrderFilters, OrderLeg, OrderSide
from mimic.domain.signal import Signal
from tests.integration.ports.rows import (
    HUGE,
    NOW,
    TINY,
    WINDOW,
    make_intent,
    make_signal,
    new_id,
)
from tests.integration.ports.stores import Store

LEASE = timedelta(seconds=60)


async def stored_signal(store: Store, key: str = "id:intents") -> Signal:
    signal = make_signal(key)
    async with store.unit() as repos:
        await repos.signals.add_unless_duplicate(signal, expiring_after=NOW - WINDOW)
    return signal


async def test_add_new_ignores_intents_already_planned(store: Store) -> None:
    """One intent per (signal, account, leg): planning again adds only what is new."""
    signal = await stored_signal(store)
    entry = make_intent(signal, "a" * 32)
    close = make_intent(signal, "a" * 32, OrderLeg.CLOSE)
    other = make_intent(signal, "b" * 32)
    async with store.unit() as repos:
        await repos.intents.add_new([entry])
        await repos.intents.add_new([make_intent(signal, "a" * 32), close])  # entry planned again
        await repos.intents.add_new([other, make_intent(signal, "b" * 32)])  # twice in one go
        await repos.intents.add_new([])
    async with store.unit() as repos:
        stored = await repos.intents.list_for_signal(signal.id)
    assert {i.id for i in stored} == {entry.id, close.id, other.id}
    assert next(i for i in stored if i.id == entry.id) == entry
    assert stored[0].quantity == HUGE
    assert str(stored[0].quantity) == str(HUGE)


async def test_add_new_reports_what_it_inserted_and_holds_it_for_the_planner(
    store: Store,
) -> None:
    signal = await stored_signal(store)
    held, skipped = make_intent(signal, new_id()), make_intent(signal, new_id())
    held.hold_for_sending(NOW)
    skipped.skip("copying is paused", NOW)
    lease = NOW + LEASE
    async with store.unit() as repos:
        assert await repos.intents.add_new([held, skipped], lease_until=lease) == {
            held.id,
            skipped.id,
        }
        again = make_intent(signal, held.account_id)
        assert await repos.intents.add_new([again], lease_until=lease) == set()
    async with store.unit() as repos:
        # The planner holds its intent: nobody else can claim it before the lease runs out.
        assert await repos.intents.claim([held.id, skipped.id], now=NOW, lease_until=lease) == []
        retaken = await repos.intents.claim(
            [held.id], now=lease + timedelta(seconds=1), lease_until=lease
        )
    assert [(i.id, i.status, i.attempts) for i in retaken] == [
        (held.id, IntentStatus.SUBMITTING, 2)
    ]


async def test_a_signal_is_in_hand_while_one_of_its_intents_is_leased(store: Store) -> None:
    held_signal = await stored_signal(store, "id:held")
    idle_signal = await stored_signal(store, "id:idle")
    held, idle = make_intent(held_signal, new_id()), make_intent(idle_signal, new_id())
    held.hold_for_sending(NOW)
    lease = NOW + LEASE
    async with store.unit() as repos:
        await repos.intents.add_new([held, idle], lease_until=lease)
    async with store.unit() as repos:
        ids = [held_signal.id, idle_signal.id]
        assert await repos.intents.signals_in_hand(ids, now=NOW) == {held_signal.id}
        assert await repos.intents.signals_in_hand(ids, now=lease) == set()
        assert await repos.intents.signals_in_hand([], now=NOW) == set()


async def test_claim_is_exclusive_until_the_lease_runs_out(store: Store) -> None:
    signal = await stored_signal(store)
    intents = [make_intent(signal, new_id()) for _ in range(3)]
    ids = [i.id for i in intents]
    async with store.unit() as repos:
        await repos.intents.add_new(intents)
    async with store.unit() as repos:
        claimed = await repos.intents.claim(ids, now=NOW, lease_until=NOW + LEASE)
    assert [i.id for i in claimed] == ids
    assert all(i.status is IntentStatus.SUBMITTING and i.attempts == 1 for i in claimed)
    async with store.unit() as repos:
        assert await repos.intents.claim(ids, now=NOW + LEASE / 2, lease_until=NOW + LEASE) == []
    later = NOW + LEASE + timedelta(seconds=1)
    async with store.unit() as repos:
        again = await repos.intents.claim(ids[:2], now=later, lease_until=later + LEASE)
    assert [(i.id, i.attempts) for i in again] == [(ids[0], 2), (ids[1], 2)]


async def test_save_results_settles_or_releases(store: Store) -> None:
    signal = await stored_signal(store)
    filled, rejected, unsettled = (make_intent(signal, new_id()) for _ in range(3))
    ids = [filled.id, rejected.id, unsettled.id]
    later = NOW + timedelta(seconds=2)
    async with store.unit() as repos:
        await repos.intents.add_new([filled, rejected, unsettled])
        claimed = await repos.intents.claim(ids, now=NOW, lease_until=NOW + LEASE)
        by_id = {i.id: i for i in claimed}
        by_id[filled.id].record_fill(
            OrderFill("x-1", filled.client_order_id, "BTCUSDT", OrderSide.BUY, HUGE, TINY, TINY),
            later,
        )
        by_id[rejected.id].reject("margin is insufficient", later)
        by_id[unsettled.id].retry_later("outcome unknown", later)
        await repos.intents.save_results(claimed)

    async with store.unit() as repos:
        stored = {i.id: i for i in await repos.intents.list_for_signal(signal.id)}
        assert stored == by_id
        assert stored[filled.id].average_price == TINY
        assert stored[filled.id].updated_at == later
        # As the port says: the unsettled one is pending again, claimable at once, attempts
        # counting on; the settled ones are never claimed again.
        retried = await repos.intents.claim(ids, now=later, lease_until=later + LEASE)
    assert [(i.id, i.attempts) for i in retried] == [(unsettled.id, 2)]


async def test_list_for_user_newest_first(store: Store) -> None:
    signal = await stored_signal(store)
    intents = [make_intent(signal, new_id()) for _ in range(4)]
    for n, intent in enumerate(intents):
        intent.created_at = NOW + timedelta(seconds=n)
    intents[3].user_id = "v" * 32
    async with store.unit() as repos:
        await repos.intents.add_new(intents)
    async with store.unit() as repos:
        mine = await repos.intents.list_for_user("u" * 32, limit=2)
        intents[0].status = IntentStatus.REJECTED
        intents[1].status = IntentStatus.SUBMITTING
        await repos.intents.save_results(intents[:2])
    async with store.unit() as repos:
        in_flight = OrderFilters.parse("pending", None)
        pending = await repos.intents.list_for_user("u" * 32, limit=10, filters=in_flight)
        rejected = await repos.intents.list_for_user(
            "u" * 32, limit=10, filters=OrderFilters.parse("rejected", intents[0].symbol)
        )
        elsewhere = await repos.intents.list_for_user(
            "u" * 32, limit=10, filters=OrderFilters.parse(None, "DOGEUSDT")
        )
    assert [i.id for i in mine] == [intents[2].id, intents[1].id]
    assert [i.id for i in pending] == [intents[2].id, intents[1].id]
    assert [i.id for i in rejected] == [intents[0].id]
    assert elsewhere == []


async def test_signal_intents_by_part(store: Store) -> None:
    signal = await stored_signal(store, "id:by-part")
    low, high = "1" + new_id()[1:], "c" + new_id()[1:]
    first, second = FanoutPart(0, 2), FanoutPart(1, 2)
    async with store.unit() as repos:
        await repos.intents.add_new([make_intent(signal, low), make_intent(signal, high)])
    async with store.unit() as repos:
        intents = repos.intents
        assert [i.account_id for i in await intents.list_for_signal(signal.id, part=first)] == [low]
        assert [i.account_id for i in await intents.list_for_signal(signal.id, part=second)] == [
            high
        ]
        assert len(await intents.list_for_signal(signal.id)) == 2


async def test_a_part_is_unsettled_while_one_of_its_intents_is_not_final(store: Store) -> None:
    signal = await stored_signal(store)
    first, second = FanoutPart(0, 2), FanoutPart(1, 2)
    low, high = make_intent(signal, "1" * 32), make_intent(signal, "c" * 32)
    async with store.unit() as repos:
        assert not await repos.intents.has_unsettled(signal.id, part=first)
        await repos.intents.add_new([low, high])
    low.skip("not wanted", NOW)
    async with store.unit() as repos:
        await repos.intents.save_results([low])
    async with store.unit() as repos:
        assert not await repos.intents.has_unsettled(signal.id, part=first)
        assert await repos.intents.has_unsettled(signal.id, part=second)  # still pending
        assert not await repos.intents.has_unsettled("another signal", part=second)
