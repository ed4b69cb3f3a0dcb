"""A follower's order history: signal orders and panic closes as one list, filtered, paged."""

from datetime import timedelta
from decimal import Decimal

import pytest

from mimic.application.order_history import ViewOrderHistory
from mimic.domain.errors import InvalidField
from mimic.domain.orders import IntentStatus, OrderFilters, OrderIntent, OrderLeg, OrderSide
from tests.fakes.panic import InMemoryPanicCloses
from tests.fakes.repositories.order_intents import InMemoryOrderIntentRepository
from tests.fakes.services import START


def order(
    n: int, symbol: str = "BTCUSDT", status: IntentStatus = IntentStatus.FILLED
) -> OrderIntent:
    return OrderIntent(
        id=f"o{n:03d}",
        signal_id=f"s{n:03d}",
        account_id="acct",
        user_id="ann",
        leg=OrderLeg.ENTRY,
        symbol=symbol,
        side=OrderSide.BUY,
        quantity=Decimal("0.01"),
        reduce_only=False,
        leverage=5,
        client_order_id=f"mimic-{n:03d}",
        created_at=START + timedelta(minutes=n),
        status=status,
    )


@pytest.fixture
async def history() -> tuple[ViewOrderHistory, InMemoryOrderIntentRepository, InMemoryPanicCloses]:
    intents, closes = InMemoryOrderIntentRepository(), InMemoryPanicCloses()
    return ViewOrderHistory(intents, closes), intents, closes


async def test_pages_run_newest_first_across_signal_orders_and_panic_closes(
    history: tuple[ViewOrderHistory, InMemoryOrderIntentRepository, InMemoryPanicCloses],
) -> None:
    view, intents, closes = history
    await intents.add_new([order(n) for n in range(0, 10, 2)])
    await closes.add_new([order(n) for n in range(1, 10, 2)], run_id="run")

    first = await view("ann", OrderFilters(), offset=0, limit=4)
    second = await view("ann", OrderFilters(), offset=4, limit=4)
    last = await view("ann", OrderFilters(), offset=8, limit=4)

    assert [o.id for o in first.orders] == ["o009", "o008", "o007", "o006"]
    assert [o.id for o in second.orders] == ["o005", "o004", "o003", "o002"]
    assert [o.id for o in last.orders] == ["o001", "o000"]
    assert (first.has_more, second.has_more, last.has_more) == (True, True, False)
    assert await view("bob", OrderFilters(), offset=0, limit=4) == type(first)([], False)


async def test_filters_by_status_and_symbol_and_pending_covers_orders_in_flight(
    history: tuple[ViewOrderHistory, InMemoryOrderIntentRepository, InMemoryPanicCloses],
) -> None:
    view, intents, _ = history
    await intents.add_new(
        [
            order(1, "BTCUSDT", IntentStatus.FILLED),
            order(2, "ETHUSDT", IntentStatus.REJECTED),
            order(3, "BTCUSDT", IntentStatus.SUBMITTING),
            order(4, "BTCUSDT", IntentStatus.PENDING),
        ]
    )

    async def ids(status: str | None, symbol: str | None) -> list[str]:
        page = await view("ann", OrderFilters.parse(status, symbol), offset=0, limit=50)
        return [o.id for o in page.orders]

    assert await ids("pending", None) == ["o004", "o003"]
    assert await ids(None, "ethusdt.p") == ["o002"]  # normalised as TradingView writes it
    assert await ids("filled", "BTCUSDT") == ["o001"]
    assert await view.export("ann", OrderFilters.parse("rejected", None)) == [
        o for o in await intents.list_for_user("ann", limit=10) if o.id == "o002"
    ]
    with pytest.raises(InvalidField) as wrong:
        OrderFilters.parse("lost", None)
    assert wrong.value.field == "status"
    with pytest.raises(InvalidField):
        await view("ann", OrderFilters(), offset=0, limit=0)
