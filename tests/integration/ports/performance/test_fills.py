"""The FillRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from dataclasses import replace
from datetime import timedelta, timezone
from decimal import Decimal

from mimic.domain.orders import OrderSide
from mimic.domain.performance import AccountFill
from tests.integration.ports.rows import NOW, WINDOW, make_intent, make_signal, new_id
from tests.integration.ports.stores import Store


def fill(fill_id: str, minutes: int, order_id: str | None = None) -> AccountFill:
    return AccountFill(
        fill_id=fill_id,
        symbol="ETHUSDT",
        side=OrderSide.BUY,
        quantity=Decimal("0.5"),
        price=Decimal("3000.5"),
        fee=Decimal("0.6"),
        realized_pnl=None,
        executed_at=NOW + timedelta(minutes=minutes),
        order_id=order_id,
    )


async def test_fills_are_added_once_and_read_in_time_order_with_their_source(
    store: Store,
) -> None:
    signal = make_signal("id:sourced")
    account = new_id()
    placed = make_intent(signal, account)
    placed.user_id = "ann"
    placed.exchange_order_id = "x-1"
    async with store.unit() as repos:
        await repos.signals.add_unless_duplicate(signal, expiring_after=NOW - WINDOW)
        await repos.intents.add_new([placed])
    # The fill ids sort against their times: time orders them.
    later, sooner = fill("a-later", 5), fill("z-sooner", 1, order_id="x-1")
    async with store.unit() as repos:
        assert await repos.fills.add_new([(account, "ann", later), (account, "ann", sooner)]) == 2
        assert await repos.fills.add_new([(account, "ann", later), ("other", "bob", later)]) == 1
    async with store.unit() as repos:
        by_user = await repos.fills.for_users(["ann", "bob", "nobody"])
        assert await repos.fills.count_for_user("ann") == 2
        assert await repos.fills.count_for_user("nobody") == 0
        symbols = await repos.fills.traded_symbols([account, "other", "none"])
    assert set(by_user) == {"ann", "bob"}
    assert [(f.fill_id, f.source_id) for f in by_user["ann"][account]] == [
        ("z-sooner", signal.source_id),  # its order was placed for a signal
        ("a-later", None),
    ]
    assert by_user["ann"][account][0].executed_at == NOW + timedelta(minutes=1)
    assert symbols == {account: {"ETHUSDT", "BTCUSDT"}, "other": {"ETHUSDT"}}


async def test_read_marks_are_kept_per_account(store: Store) -> None:
    async with store.unit() as repos:
        assert await repos.fills.read_marks(["a1"]) == {}
        await repos.fills.set_read_marks([("a1", NOW), ("a2", NOW)])
    async with store.unit() as repos:
        await repos.fills.set_read_marks([("a1", NOW + timedelta(hours=1))])
    async with store.unit() as repos:
        assert await repos.fills.read_marks(["a1", "a2", "a3"]) == {
            "a1": NOW + timedelta(hours=1),
            "a2": NOW,
        }


async def test_a_batch_is_stored_once_exactly_whatever_it_repeats(store: Store) -> None:
    """A stream's recorder stores a batch of many accounts' fills at once (one statement on
    Postgres): a fill told twice in it is stored once, every value as it was given."""
    east = timezone(timedelta(hours=3))
    exact = replace(
        fill("f-1", 2),
        price=Decimal("0.000000123456789012"),
        realized_pnl=Decimal("-12.5"),
        executed_at=(NOW + timedelta(minutes=2)).astimezone(east),
    )
    batch = [(f"acc-{i}", "cy", fill(f"f-{i}", i)) for i in range(1200)]
    async with store.unit() as repos:
        assert await repos.fills.add_new([("acc-x", "cy", exact), *batch, *batch[:3]]) == 1201
        assert await repos.fills.add_new(batch[-2:]) == 0
    async with store.unit() as repos:
        stored = (await repos.fills.for_users(["cy"]))["cy"]
    assert len(stored) == 1201
    assert stored["acc-x"] == [exact]
    assert stored["acc-x"][0].executed_at == NOW + timedelta(minutes=2)
    assert stored["acc-7"] == [fill("f-7", 7)]
