"""Fan-out parts: every connection in exactly one part, evenly for random hex ids."""

import secrets
from collections import Counter

import pytest

from mimic.domain.errors import InvalidField
from mimic.domain.fanout import MAX_FANOUT_PARTS, FanoutPart, all_parts
from mimic.domain.signal import Signal, SignalAction, SignalParams, SignalStatus
from tests.fakes.services import START

ODD_IDS = ["", "0", "7fff", "8000", "8000" + "0" * 28, "f" * 32, "zzz", "ACC-1", "acct-01-alice"]


@pytest.mark.parametrize("count", range(1, MAX_FANOUT_PARTS + 1))
def test_every_id_belongs_to_exactly_one_part(count: int) -> None:
    ids = [secrets.token_hex(16) for _ in range(2000)] + ODD_IDS
    for account_id in ids:
        holders = [p.index for p in all_parts(count) if p.holds(account_id)]
        assert len(holders) == 1, (account_id, holders)


@pytest.mark.parametrize("count", [2, 3, 7, 16])
def test_random_hex_ids_spread_evenly(count: int) -> None:
    ids = [secrets.token_hex(16) for _ in range(16000)]
    sizes = Counter(next(p.index for p in all_parts(count) if p.holds(i)) for i in ids)
    expected = len(ids) / count
    assert sorted(sizes) == list(range(count))
    assert all(abs(size - expected) < expected * 0.15 for size in sizes.values()), sizes


def test_part_bounds_touch_and_cover_everything() -> None:
    parts = all_parts(4)
    assert [(p.low, p.high) for p in parts] == [
        (None, "4000"),
        ("4000", "8000"),
        ("8000", "c000"),
        ("c000", None),
    ]
    assert FanoutPart(0, 1).low is None
    assert FanoutPart(0, 1).high is None


@pytest.mark.parametrize(("index", "count"), [(0, 0), (0, MAX_FANOUT_PARTS + 1), (2, 2), (-1, 2)])
def test_impossible_parts_are_refused(index: int, count: int) -> None:
    with pytest.raises(InvalidField):
        FanoutPart(index, count)


def test_a_signal_lists_the_parts_still_to_finish() -> None:
    signal = Signal(
        id="s",
        source_id="master",
        params=SignalParams(symbol="BTCUSDT", action=SignalAction.LONG),
        dedupe_key="id:s",
        received_at=START,
        fanout_parts=3,
        finished_parts=frozenset({1}),
    )
    assert [p.index for p in signal.unfinished_parts()] == [0, 2]
    signal.status = SignalStatus.DONE
    assert signal.unfinished_parts() == []
