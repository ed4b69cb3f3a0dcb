"""Webhook intake: authenticate, validate, store once, enqueue once."""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from mimic.application.receive_signal import (
    ReceivedSignal,
    ReceiveSignal,
    ReceiveSignalCommand,
    passphrase_hash,
)
from mimic.domain.accounts import SignalSource, TradeDirection
from mimic.domain.errors import AuthenticationFailed, InvalidField
from mimic.domain.signal import SignalAction, SignalParams, SignalStatus
from tests.fakes.exchange import FakeSymbolCatalog
from tests.fakes.intake import InMemorySignalIntake
from tests.fakes.metrics import RecordingMetrics
from tests.fakes.repositories.signals import (
    InMemorySignalRepository,
    InMemorySignalSourceRepository,
)
from tests.fakes.services import START, FixedClock, RecordingSignalQueue

PASSPHRASE = "correct horse battery staple"
WINDOW = timedelta(seconds=60)


@dataclass
class Intake:
    sources: InMemorySignalSourceRepository = field(default_factory=InMemorySignalSourceRepository)
    signals: InMemorySignalRepository = field(default_factory=InMemorySignalRepository)
    catalog: FakeSymbolCatalog = field(default_factory=FakeSymbolCatalog)
    queue: RecordingSignalQueue = field(default_factory=RecordingSignalQueue)
    clock: FixedClock = field(default_factory=FixedClock)
    metrics: RecordingMetrics = field(default_factory=RecordingMetrics)

    fanout_parts: int = 1
    store: InMemorySignalIntake = field(init=False)

    def __post_init__(self) -> None:
        self.store = InMemorySignalIntake(self.sources, self.signals)

    def interactor(self) -> ReceiveSignal:
        return ReceiveSignal(
            self.store,
            self.catalog,
            self.queue,
            self.clock,
            WINDOW,
            self.metrics,
            fanout_parts=self.fanout_parts,
        )

    async def post(self, **payload: Any) -> ReceivedSignal:
        return await self.interactor()(ReceiveSignalCommand(payload=payload))

    def nothing_stored(self) -> bool:
        return self.signals.all() == [] and self.queue.enqueued == [] and self.store.commits == 0


@pytest.fixture
async def intake() -> Intake:
    world = Intake()
    await world.sources.add(
        SignalSource(id="master", name="default", passphrase_hash=passphrase_hash(PASSPHRASE))
    )
    return world


def alert(**changes: Any) -> dict[str, Any]:
    return {"passphrase": PASSPHRASE, "symbol": "BINANCE:BTCUSDT.P", "action": "long"} | changes


async def test_accepted_signal_is_stored_and_enqueued_once(intake: Intake) -> None:
    result = await intake.post(**alert(risk_perc=2, leverage="10", action="SHORT"))

    assert result.duplicate is False
    stored = intake.signals.all()
    assert [s.id for s in stored] == [result.signal_id]
    signal = stored[0]
    assert signal.source_id == "master"
    assert signal.params == SignalParams(
        symbol="BTCUSDT", action=SignalAction.SHORT, risk_perc=Decimal(2), leverage=10
    )
    assert signal.received_at == START
    assert signal.status is SignalStatus.RECEIVED
    assert signal.dedupe_key.startswith("body:")
    assert intake.queue.enqueued == [result.signal_id]
    assert intake.queue.parts == [(result.signal_id, 0)]
    assert signal.fanout_parts == 1
    assert intake.store.commits == 1


async def test_a_signal_in_parts_is_enqueued_once_per_part(intake: Intake) -> None:
    intake.fanout_parts = 3
    result = await intake.post(**alert())
    repeat = await intake.post(**alert())

    assert repeat.duplicate is True
    assert [s.fanout_parts for s in intake.signals.all()] == [3]
    assert intake.queue.parts == [
        (result.signal_id, 0),
        (result.signal_id, 1),
        (result.signal_id, 2),
    ]


@pytest.mark.parametrize(
    "payload",
    [
        alert(passphrase="wrong"),
        alert(passphrase=""),
        alert(passphrase=None),
        alert(passphrase=12345),
        {"symbol": "BTCUSDT", "action": "long"},
    ],
)
async def test_wrong_or_missing_passphrase_stores_nothing(
    intake: Intake, payload: dict[str, Any]
) -> None:
    with pytest.raises(AuthenticationFailed):
        await intake.post(**payload)
    assert intake.nothing_stored()


async def test_inactive_source_is_refused(intake: Intake) -> None:
    await intake.sources.add(
        SignalSource(
            id="retired", name="old", passphrase_hash=passphrase_hash("old one"), active=False
        )
    )
    with pytest.raises(AuthenticationFailed):
        await intake.post(**alert(passphrase="old one"))
    assert intake.nothing_stored()


async def test_passphrase_is_checked_before_the_body(intake: Intake) -> None:
    with pytest.raises(AuthenticationFailed):
        await intake.post(**alert(passphrase="wrong", risk_perc=-1))


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        ({"symbol": "BTC USDT"}, "symbol"),
        ({"symbol": None}, "symbol"),
        ({"action": "hold"}, "action"),
        ({"risk_perc": 0}, "risk_perc"),
        ({"risk_perc": "abc"}, "risk_perc"),
        ({"leverage": 126}, "leverage"),
        ({"leverage": 2.5}, "leverage"),
        ({"tp_perc": -1}, "tp_perc"),
        ({"sl_perc": 100}, "sl_perc"),
        ({"id": "x" * 129}, "id"),
    ],
)
async def test_invalid_field_stores_nothing(
    intake: Intake, changes: dict[str, Any], field_name: str
) -> None:
    with pytest.raises(InvalidField) as caught:
        await intake.post(**alert(**changes))
    assert caught.value.field == field_name
    assert intake.nothing_stored()


async def test_unknown_symbol_is_an_invalid_symbol(intake: Intake) -> None:
    with pytest.raises(InvalidField) as caught:
        await intake.post(**alert(symbol="BINANCE:FOOUSDT.P"))
    assert caught.value.field == "symbol"
    assert caught.value.message == "FOOUSDT is not traded on any connected exchange"
    assert intake.nothing_stored()


async def test_catalog_is_asked_about_the_normalised_symbol(intake: Intake) -> None:
    intake.catalog.symbols = {"ETHUSDT"}
    result = await intake.post(**alert(symbol="bybit:ethusdt.p"))
    assert intake.signals.all()[0].params.symbol == "ETHUSDT"
    assert result.duplicate is False


async def test_identical_repeat_within_the_window_is_a_duplicate(intake: Intake) -> None:
    first = await intake.post(**alert())
    intake.clock.advance(timedelta(seconds=5))  # TradingView resends after 5 s
    second = await intake.post(**alert())
    intake.clock.advance(WINDOW - timedelta(seconds=6))  # 59 s after the first
    third = await intake.post(**alert())

    assert second == ReceivedSignal(signal_id=first.signal_id, duplicate=True)
    assert third == ReceivedSignal(signal_id=first.signal_id, duplicate=True)
    assert len(intake.signals.all()) == 1
    assert intake.queue.enqueued == [first.signal_id]


async def test_identical_repeat_after_the_window_is_a_new_signal(intake: Intake) -> None:
    first = await intake.post(**alert())
    intake.clock.advance(WINDOW + timedelta(seconds=1))
    later = await intake.post(**alert())
    intake.clock.advance(timedelta(seconds=5))
    resend_of_later = await intake.post(**alert())

    assert later.duplicate is False
    assert later.signal_id != first.signal_id
    assert resend_of_later == ReceivedSignal(signal_id=later.signal_id, duplicate=True)
    assert intake.queue.enqueued == [first.signal_id, later.signal_id]
    assert len(intake.signals.all()) == 2


async def test_repeat_exactly_at_the_window_edge_is_new(intake: Intake) -> None:
    first = await intake.post(**alert())
    intake.clock.advance(WINDOW)
    again = await intake.post(**alert())
    assert again.duplicate is False
    assert again.signal_id != first.signal_id


async def test_a_different_body_is_not_a_duplicate(intake: Intake) -> None:
    first = await intake.post(**alert())
    other = await intake.post(**alert(action="close"))
    assert other.duplicate is False
    assert intake.queue.enqueued == [first.signal_id, other.signal_id]


async def test_explicit_id_repeated_after_the_window_is_still_a_duplicate(intake: Intake) -> None:
    first = await intake.post(**alert(id="tv-order-42"))
    intake.clock.advance(timedelta(days=3))
    # Another body (different risk), same id: the id alone decides.
    again = await intake.post(**alert(id="tv-order-42", risk_perc=5))

    assert again == ReceivedSignal(signal_id=first.signal_id, duplicate=True)
    assert intake.queue.enqueued == [first.signal_id]
    assert intake.signals.all()[0].dedupe_key == "id:tv-order-42"


async def test_same_body_from_another_source_is_not_a_duplicate(intake: Intake) -> None:
    await intake.sources.add(
        SignalSource(id="second", name="second", passphrase_hash=passphrase_hash("other pass"))
    )
    # The passphrase is part of the body, so also use an explicit id to force the same key.
    first = await intake.post(**alert(id="same"))
    second = await intake.post(**alert(id="same", passphrase="other pass"))
    assert second.duplicate is False
    assert {s.source_id for s in intake.signals.all()} == {"master", "second"}
    assert intake.queue.enqueued == [first.signal_id, second.signal_id]


async def test_duplicate_is_committed_but_not_enqueued(intake: Intake) -> None:
    await intake.post(**alert())
    await intake.post(**alert())
    assert intake.store.commits == 2
    assert len(intake.queue.enqueued) == 1


async def test_every_signal_is_counted_by_its_source_and_outcome(intake: Intake) -> None:
    await intake.post(**alert(id="one"))
    await intake.post(**alert(id="one"))
    with pytest.raises(InvalidField):
        await intake.post(**alert(symbol="BINANCE:FOOUSDT.P"))
    with pytest.raises(AuthenticationFailed):
        await intake.post(**alert(passphrase="not the passphrase"))

    assert intake.metrics.signals == {
        ("default", "accepted"): 1,
        ("default", "duplicate"): 1,
        ("default", "refused"): 1,
        ("unknown", "refused"): 1,
    }


async def test_a_source_is_looked_up_once_then_remembered(intake: Intake) -> None:
    await intake.post(**alert(id="one"))
    await intake.post(**alert(id="two"))
    assert intake.store.lookups == 1
    assert len(intake.signals.all()) == 2


async def test_a_remembered_passphrase_is_refused_once_rotated(intake: Intake) -> None:
    await intake.post(**alert(id="one"))
    source = await intake.sources.get("master")
    assert source is not None
    source.passphrase_hash = passphrase_hash("rotated")
    await intake.sources.save(source)

    with pytest.raises(AuthenticationFailed):
        await intake.post(**alert(id="two"))
    accepted = await intake.post(**alert(id="three", passphrase="rotated"))
    assert accepted.duplicate is False
    assert [s.params.external_id for s in intake.signals.all()] == ["one", "three"]


async def test_a_remembered_source_is_refused_once_deactivated(intake: Intake) -> None:
    await intake.post(**alert(id="one"))
    source = await intake.sources.get("master")
    assert source is not None
    source.active = False
    await intake.sources.save(source)

    with pytest.raises(AuthenticationFailed):
        await intake.post(**alert(id="two"))
    assert len(intake.signals.all()) == 1
    assert intake.queue.enqueued == [intake.signals.all()[0].id]


async def test_a_changed_direction_is_applied_at_once(intake: Intake) -> None:
    await intake.post(**alert(id="one", action="short"))
    source = await intake.sources.get("master")
    assert source is not None
    source.direction = TradeDirection.LONG_ONLY
    await intake.sources.save(source)

    await intake.post(**alert(id="two", action="short"))
    actions = [s.params.action for s in intake.signals.all()]
    assert actions == [SignalAction.SHORT, SignalAction.CLOSE]
