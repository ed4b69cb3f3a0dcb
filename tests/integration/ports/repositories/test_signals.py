"""The SignalRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from datetime import UTC, timedelta, timezone
from decimal import Decimal

from mimic.domain.fanout import FanoutPart
from mimic.domain.signal import Signal, SignalAction, SignalParams, SignalStatus
from tests.integration.ports.rows import (
    HUGE,
    NOW,
    TINY,
    WINDOW,
    make_signal,
)
from tests.integration.ports.stores import Store


async def store_signal(store: Store, signal: Signal) -> None:
    async with store.unit() as repos:
        _, duplicate = await repos.signals.add_unless_duplicate(
            signal, expiring_after=signal.received_at - WINDOW
        )
    assert not duplicate


async def test_signal_round_trip_keeps_decimals_and_utc(store: Store) -> None:
    signal = make_signal("id:alert-1", received_at=NOW.astimezone(timezone(timedelta(hours=-5))))
    signal.params = SignalParams(
        symbol="ETHUSDT",
        action=SignalAction.SHORT,
        risk_perc=TINY,
        leverage=3,
        tp_perc=HUGE,
        sl_perc=Decimal("2.5"),
        external_id="alert-1",
    )
    await store_signal(store, signal)
    async with store.unit() as repos:
        loaded = await repos.signals.get(signal.id)
    assert loaded == signal
    assert loaded is not None
    assert loaded.received_at.tzinfo is UTC
    assert str(loaded.params.risk_perc) == str(TINY)


async def test_a_body_key_is_a_duplicate_only_inside_its_window(store: Store) -> None:
    old = make_signal(received_at=NOW - 2 * WINDOW)
    await store_signal(store, old)
    async with store.unit() as repos:
        fresh, duplicate = await repos.signals.add_unless_duplicate(
            make_signal(), expiring_after=NOW - WINDOW
        )
        assert not duplicate
        assert fresh.id != old.id
        # A resend within the window of the new one is its duplicate.
        again, duplicate = await repos.signals.add_unless_duplicate(
            make_signal(received_at=NOW + timedelta(seconds=5)), expiring_after=NOW - WINDOW
        )
        assert duplicate
        assert again.id == fresh.id
    async with store.unit() as repos:
        kept_old = await repos.signals.get(old.id)
        recent = await repos.signals.list_recent(limit=10)
    assert kept_old is not None
    assert kept_old.params == old.params
    assert {s.id for s in recent} == {old.id, fresh.id}


async def test_explicit_id_keys_never_expire(store: Store) -> None:
    old = make_signal("id:order-42", received_at=NOW - timedelta(days=30))
    await store_signal(store, old)
    async with store.unit() as repos:
        found, duplicate = await repos.signals.add_unless_duplicate(
            make_signal("id:order-42", received_at=NOW + timedelta(days=1)),
            expiring_after=NOW + timedelta(days=1) - WINDOW,
        )
    assert duplicate
    assert found.id == old.id


async def test_unfinished_signals(store: Store) -> None:
    first = make_signal("id:1", received_at=NOW - timedelta(seconds=30))
    second = make_signal("id:2", received_at=NOW - timedelta(seconds=20))
    other_symbol = make_signal("id:3", received_at=NOW - timedelta(seconds=25), symbol="ETHUSDT")
    late = make_signal("id:4", received_at=NOW)
    # Received at the same time: the lower id goes first.
    tie_low, tie_high = (
        make_signal(f"id:{n}", received_at=NOW - timedelta(seconds=10), symbol="DOGEUSDT")
        for n in (5, 6)
    )
    tie_low.id, tie_high.id = "0" * 32, "f" * 32
    for signal in (second, first, other_symbol, late, tie_high, tie_low):
        await store_signal(store, signal)
    async with store.unit() as repos:
        signals = repos.signals
        assert [s.id for s in await signals.list_next_in_line()] == [
            first.id,
            other_symbol.id,
            tie_low.id,
        ]
        assert (await signals.first_unfinished(first.source_id, "BTCUSDT")) == first
        assert (await signals.first_unfinished(first.source_id, "DOGEUSDT")) == tie_low
        assert await signals.first_unfinished(first.source_id, "XRPUSDT") is None
        assert await signals.has_unfinished_before(second)
        assert not await signals.has_unfinished_before(first)
        assert not await signals.has_unfinished_before(other_symbol)
        assert await signals.has_unfinished_before(tie_high)
        assert not await signals.has_unfinished_before(tie_low)
        await signals.set_status(first.id, SignalStatus.DONE)
    async with store.unit() as repos:
        signals = repos.signals
        assert not await signals.has_unfinished_before(second)
        assert [s.id for s in await signals.list_next_in_line()] == [
            other_symbol.id,
            second.id,
            tie_low.id,
        ]
        assert (await signals.first_unfinished(first.source_id, "BTCUSDT")) == second
        recent = await signals.list_recent(limit=2)
    assert [s.id for s in recent] == [late.id, tie_high.id]


async def test_signal_parts_finish_one_by_one(store: Store) -> None:
    signal = make_signal("id:parts")
    signal.fanout_parts = 3
    await store_signal(store, signal)
    async with store.unit() as repos:
        stored = await repos.signals.get(signal.id)
        assert stored is not None
        assert (stored.fanout_parts, stored.finished_parts) == (3, frozenset())
        assert await repos.signals.finish_part(signal.id, FanoutPart(1, 3)) is False
        assert await repos.signals.finish_part(signal.id, FanoutPart(1, 3)) is False  # idempotent
        assert await repos.signals.finish_part(signal.id, FanoutPart(0, 3)) is False
    async with store.unit() as repos:
        stored = await repos.signals.get(signal.id)
        assert stored is not None
        assert stored.finished_parts == frozenset({0, 1})
        assert stored.status is SignalStatus.RECEIVED
        assert [p.index for p in stored.unfinished_parts()] == [2]
        assert await repos.signals.finish_part(signal.id, FanoutPart(2, 3)) is True
    async with store.unit() as repos:
        assert await repos.signals.list_next_in_line() == []
        stored = await repos.signals.get(signal.id)
    assert stored is not None
    assert stored.status is SignalStatus.DONE


async def test_reference_price_and_sources_of_signals(store: Store) -> None:
    signal = make_signal("id:ref")
    await store_signal(store, signal)
    async with store.unit() as repos:
        await repos.signals.set_reference(signal.id, HUGE, NOW + timedelta(seconds=1))
    async with store.unit() as repos:  # the first reference stays
        await repos.signals.set_reference(signal.id, TINY, NOW + timedelta(seconds=2))
    async with store.unit() as repos:
        stored = await repos.signals.get(signal.id)
        sources = await repos.signals.source_ids([signal.id, "unknown"])
    assert stored is not None
    assert (stored.reference_price, stored.reference_at) == (HUGE, NOW + timedelta(seconds=1))
    assert sources == {signal.id: signal.source_id}
