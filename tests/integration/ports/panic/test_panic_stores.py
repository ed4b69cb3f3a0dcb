"""The panic switch's stores (guard, runs, closes), on the fakes and on SQL."""

from dataclasses import replace
from datetime import timedelta

from mimic.domain.orders import IntentStatus, OrderFilters, OrderLeg
from mimic.domain.panic import AccountOutcome, PanicGuardState, PanicRun, PanicStatus, panic_key
from tests.integration.ports.rows import NOW, make_intent, make_signal, new_id
from tests.integration.ports.stores import Store


async def test_the_guard_is_saved_only_over_the_step_it_was_read_at(store: Store) -> None:
    async with store.unit() as repos:
        assert await repos.panic_guard.load() == PanicGuardState()
        accepted = PanicGuardState(last_step=100, failures=0, confirmed=True)
        assert await repos.panic_guard.save(accepted, expected_last_step=-1) is True
    async with store.unit() as repos:
        late = PanicGuardState(last_step=100, failures=1)
        assert await repos.panic_guard.save(late, expected_last_step=-1) is False
        locked = PanicGuardState(last_step=100, failures=5, locked_until=NOW)
        assert await repos.panic_guard.save(locked, expected_last_step=100) is True
    async with store.unit() as repos:
        assert await repos.panic_guard.load() == locked


async def test_a_run_is_stored_as_a_copy_and_saved_with_its_outcomes(store: Store) -> None:
    run = PanicRun(new_id(), "admin", NOW)
    async with store.unit() as repos:
        await repos.panic_runs.add(run)
    run.status = PanicStatus.DONE  # not saved: the stored run is still running
    async with store.unit() as repos:
        stored = await repos.panic_runs.get(run.id)
        assert await repos.panic_runs.get("missing") is None
    assert stored is not None
    assert stored.status is PanicStatus.RUNNING
    stored.accounts = [AccountOutcome("a1", "ann", "paper", ["BTCUSDT"], {"ETHUSDT": "no"})]
    stored.status, stored.finished_at = PanicStatus.DONE, NOW + timedelta(seconds=3)
    async with store.unit() as repos:
        await repos.panic_runs.save(stored)
    async with store.unit() as repos:
        assert await repos.panic_runs.get(run.id) == stored


async def test_closes_are_added_once_and_listed_newest_first(store: Store) -> None:
    run_id = new_id()
    closes = []
    for n, symbol in enumerate(("BTCUSDT", "ETHUSDT")):
        close = make_intent(make_signal(symbol=symbol), "a" * 32, OrderLeg.CLOSE)
        close = replace(close, signal_id=panic_key(run_id, symbol), reduce_only=True)
        close.created_at = NOW + timedelta(seconds=n)
        closes.append(close)
    async with store.unit() as repos:
        await repos.panic_closes.add_new(closes, run_id=run_id)
        await repos.panic_closes.add_new([replace(closes[0], quantity=1)], run_id=run_id)
    closes[0].reject("no position", NOW + timedelta(seconds=5))
    async with store.unit() as repos:
        await repos.panic_closes.save_results(closes[:1], run_id=run_id)
    async with store.unit() as repos:
        listed = await repos.panic_closes.list_for_user("u" * 32, limit=10)
        rejected = await repos.panic_closes.list_for_user(
            "u" * 32, limit=10, filters=OrderFilters.parse("rejected", None)
        )
        assert await repos.panic_closes.list_for_user("nobody", limit=10) == []
    assert [c.id for c in listed] == [closes[1].id, closes[0].id]
    assert listed[1].quantity == closes[0].quantity
    assert [(c.id, c.status) for c in rejected] == [(closes[0].id, IntentStatus.REJECTED)]
