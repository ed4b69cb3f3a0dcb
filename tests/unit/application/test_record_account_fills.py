"""Exchange-side fills on copied positions, as an account's stream reports them, over fakes.

BTCUSDT at 65,000; a long of 0.007 BTC with TP 2 % (66,300) and SL 1 % (64,350).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from mimic.adapters.memory.trailing import InMemoryTrailingStateStore
from mimic.application.position_protection import PositionProtection
from mimic.application.record_account_fills import RecordAccountFills
from mimic.domain.account_events import FillCause, FillEvent, StreamConnected
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg, OrderRequest, OrderSide
from mimic.domain.performance import AccountFill
from mimic.domain.protection import protective_prefix
from mimic.ports.live_events import user_audience
from tests.fakes.performance import InMemoryFillRepository
from tests.fakes.protection import InMemoryPositionIntentRepository
from tests.unit.application.test_execute_signal import Follower, World
from tests.unit.domain.test_signal_protection import signal_with

D = Decimal


@dataclass
class Books:
    world: World = field(default_factory=World)
    trailing: InMemoryTrailingStateStore = field(default_factory=InMemoryTrailingStateStore)

    def __post_init__(self) -> None:
        self.fills = InMemoryFillRepository(self.world.intents, self.world.guardrail_days)

    def recorder(self) -> RecordAccountFills:
        w = self.world
        return RecordAccountFills(
            InMemoryPositionIntentRepository(w.intents),
            self.fills,
            w.gateways,
            PositionProtection(w.notifier),
            self.trailing,
            w.notifier,
            w.live,
            w.tx,
            w.clock,
        )

    def legs(self, leg: OrderLeg) -> list[OrderIntent]:
        return [i for i in self.world.intents.all() if i.leg is leg]

    def entry(self) -> OrderIntent:
        [entry] = self.legs(OrderLeg.ENTRY)
        return entry


@pytest.fixture
def books() -> Books:
    return Books()


async def protected_long(books: Books) -> Follower:
    alice = await books.world.follower("alice")
    await books.world.run(await signal_with(books.world, tp="2", sl="1"))
    return alice


async def executed(
    follower: Follower,
    client_id: str | None,
    price: str,
    *,
    side: OrderSide = OrderSide.SELL,
    quantity: str = "0.007",
    cause: FillCause = FillCause.ORDER,
) -> FillEvent:
    """The exchange executes an order that was not Mimic's market order; its fill event."""
    exchange = follower.exchange
    exchange.set_mark_price("BTCUSDT", D(price))
    request = OrderRequest("BTCUSDT", side, D(quantity), client_id or "web_x", reduce_only=True)
    await exchange.place_market_order(request)
    fill = exchange.fills[-1]
    position = exchange.positions.get("BTCUSDT")
    return FillEvent(
        fill=fill,
        order_id=fill.fill_id,
        client_order_id=client_id,
        order_quantity=fill.quantity,
        order_average_price=fill.price,
        cause=cause,
        position_after=D(0) if position is None else position.quantity,
    )


async def test_a_take_profit_that_fired_is_an_order_a_trade_a_notice_and_a_page_event(
    books: Books,
) -> None:
    alice = await protected_long(books)
    prefix = protective_prefix(books.entry().client_order_id)
    event = await executed(alice, prefix + "tp", "66300")

    [recorded] = await books.recorder()(
        alice.account, [StreamConnected(event.fill.executed_at), event]
    )

    assert recorded.leg is OrderLeg.TAKE_PROFIT
    assert (recorded.status, recorded.average_price) == (IntentStatus.FILLED, D(66300))
    assert recorded.parent_id == books.entry().id
    assert books.legs(OrderLeg.TAKE_PROFIT) == [recorded]
    assert (alice.account.id, event.fill.fill_id) in books.fills.rows  # the trade's closing fill
    [(_, kind, text)] = books.world.notifier.about("position.")
    assert kind == "position.take_profit"
    assert text == (
        "BTCUSDT position closed: take-profit hit: trigger 66300, sold 0.007 at 66300, "
        "realized PnL 9.1 USDT"
    )
    assert "BTCUSDT" not in alice.exchange.protective  # the stop-loss left behind is gone
    pages = [e.kind for to, e in books.world.live.published if to == user_audience(alice.user.id)]
    assert pages[-2:] == ["order.filled", "position.closed"]


async def test_the_same_fill_seen_twice_is_recorded_and_told_once(books: Books) -> None:
    alice = await protected_long(books)
    prefix = protective_prefix(books.entry().client_order_id)
    event = await executed(alice, prefix + "sl", "64350")
    assert len(await books.recorder()(alice.account, [event])) == 1
    assert await books.recorder()(alice.account, [event]) == []
    assert books.world.notifier.events("position.") == ["position.stop_loss"]
    assert len(books.legs(OrderLeg.STOP_LOSS)) == 1


async def test_mimics_own_orders_are_left_to_whoever_sent_them(books: Books) -> None:
    alice = await protected_long(books)
    entry_fill = alice.exchange.fills[0]
    event = FillEvent(
        fill=entry_fill,
        order_id=entry_fill.fill_id,
        client_order_id=books.entry().client_order_id,
        order_quantity=entry_fill.quantity,
        order_average_price=entry_fill.price,
        position_after=D("0.007"),
    )
    assert await books.recorder()(alice.account, [event]) == []
    assert (alice.account.id, entry_fill.fill_id) in books.fills.rows
    assert books.world.notifier.events("position.") == []


async def test_a_close_by_hand_and_a_liquidation_are_recorded_with_their_legs(
    books: Books,
) -> None:
    alice = await protected_long(books)
    by_hand = await executed(alice, "web_7Hk2", "65500", quantity="0.003")
    [partial] = await books.recorder()(alice.account, [by_hand])
    assert (partial.leg, partial.quantity, partial.reduce_only) == (
        OrderLeg.EXTERNAL,
        D("0.003"),
        True,
    )
    assert alice.exchange.protective["BTCUSDT"]  # still open: so is its protection
    liquidation = await executed(
        alice, "autoclose-1", "60000", quantity="0.004", cause=FillCause.LIQUIDATION
    )
    [liquidated] = await books.recorder()(alice.account, [liquidation])
    assert liquidated.leg is OrderLeg.LIQUIDATION
    assert books.world.notifier.events("position.") == ["position.external", "position.liquidation"]
    assert "BTCUSDT" not in alice.exchange.protective


async def test_a_reconciled_fill_without_client_id_is_told_apart_by_lookup(books: Books) -> None:
    """Binance's trade history carries no client ids: the TP is found by its own."""
    alice = await protected_long(books)
    prefix = protective_prefix(books.entry().client_order_id)
    fired = await executed(alice, prefix + "tp", "66300")
    entry_fill = alice.exchange.fills[0]
    history = [
        FillEvent(entry_fill, entry_fill.fill_id, None, entry_fill.quantity, entry_fill.price),
        FillEvent(
            fired.fill, fired.order_id, None, fired.order_quantity, fired.order_average_price
        ),
    ]
    [recorded] = await books.recorder()(alice.account, history)
    assert recorded.leg is OrderLeg.TAKE_PROFIT
    assert "BTCUSDT" not in alice.exchange.protective  # flat, as the exchange's position says


def stream_event(follower: Follower, entry: OrderIntent) -> FillEvent:
    """What the follower's stream reports of the entry Mimic sent."""
    fill = follower.exchange.fills[0]
    return FillEvent(fill, fill.fill_id, entry.client_order_id, fill.quantity, fill.price)


async def test_a_fan_outs_fills_are_stored_together_once_and_leave_the_rest_to_the_sender(
    books: Books,
) -> None:
    """Their sender recorded the orders, notices and page events: only the fills are left,
    stored in one unit of work with no position to read; seen again, they add nothing."""
    alice = await books.world.follower("alice")
    bob = await books.world.follower("bob")
    await books.world.run(await signal_with(books.world, tp="2", sl="1"))
    entries = {e.account_id: e for e in books.legs(OrderLeg.ENTRY)}
    sent = [(f, stream_event(f, entries[f.account.id])) for f in (alice, bob)]
    rows_before = len(books.world.intents.all())
    commits = books.world.tx.commits
    told = len(books.world.live.published)

    record = books.recorder()
    outcome = await record.record_many([(f.account, [e]) for f, e in sent])

    assert (outcome.recorded, outcome.flat) == ([], [])
    assert {(f.account.id, e.fill.fill_id) for f, e in sent} == set(books.fills.rows)
    assert books.world.tx.commits == commits + 1
    assert len(books.world.intents.all()) == rows_before
    assert len(books.world.live.published) == told
    await record.record_many([(f.account, [e]) for f, e in sent])
    assert await record(alice.account, [sent[0][1]]) == []  # reconciled again
    assert len(books.fills.rows) == 2


class FailingFills(InMemoryFillRepository):
    """Fails any store that holds a fill of an account in `failing`."""

    failing: frozenset[str] = frozenset()

    async def add_new(self, fills: Sequence[tuple[str, str, AccountFill]]) -> int:
        if any(account_id in self.failing for account_id, _, _ in fills):
            raise RuntimeError("database away")
        return await super().add_new(fills)


async def test_an_accounts_fills_that_fail_fail_alone_and_the_others_are_recorded(
    books: Books,
) -> None:
    """The batch fails as a whole, then is recorded one account at a time, each rolled back
    on its own failure: bob's failure is told, alice's and carol's fills are stored."""
    followers = [await books.world.follower(name) for name in ("alice", "bob", "carol")]
    await books.world.run(await signal_with(books.world, tp="2", sl="1"))
    entries = {e.account_id: e for e in books.legs(OrderLeg.ENTRY)}
    books.fills = FailingFills(books.world.intents, books.world.guardrail_days)
    books.fills.failing = frozenset({followers[1].account.id})
    rollbacks = books.world.tx.rollbacks

    outcome = await books.recorder().record_many_isolated(
        [(f.account, [stream_event(f, entries[f.account.id])]) for f in followers]
    )

    assert list(outcome.failed) == [followers[1].account.id]
    assert {account_id for account_id, _ in books.fills.rows} == {
        followers[0].account.id,
        followers[2].account.id,
    }
    assert books.world.tx.rollbacks == rollbacks + 2  # the batch, then bob alone
