"""What a Binance account's streamed state may stand for in planning, and what it may not
(then the position is read by REST)."""

from decimal import Decimal

import pytest

from mimic.adapters.ccxt.streamed_positions import (
    Unknown,
    position_reports,
    row_leverage,
    streamed_position,
)
from mimic.domain.positions import Position, PositionSide
from mimic.ports.streamed_accounts import PositionReport, SymbolState

D = Decimal


def report(amount: str, side: str = "BOTH") -> PositionReport:
    return PositionReport("BTCUSDT", side, D(amount), D(65000), 10)


def test_a_one_way_position_is_read_with_its_leverage() -> None:
    assert streamed_position(SymbolState((report("-0.5"),), 10)) == Position(
        "BTCUSDT", PositionSide.SHORT, D("0.5"), D(65000), 10
    )
    assert streamed_position(SymbolState((report("0"),), None)) is None  # flat
    assert streamed_position(SymbolState((), None)) is None  # never used: flat


@pytest.mark.parametrize(
    "state",
    [
        None,  # no usable state (not seeded, pending, stream gone)
        SymbolState((report("0.5"),), None),  # open, leverage unknown
        SymbolState((report("0.5", "LONG"),), 10),  # hedge mode: as before, by REST
        SymbolState((report("0", "LONG"), report("0", "SHORT")), 10),
    ],
)
def test_what_the_state_cannot_say_for_sure_is_read_by_rest(state: SymbolState | None) -> None:
    with pytest.raises(Unknown):
        streamed_position(state)


def test_a_seed_keeps_the_rows_ever_used_and_the_rest_reads_as_flat() -> None:
    rows = [
        {"symbol": "BTCUSDT", "positionAmt": "0.010", "entryPrice": "65000",
         "positionSide": "BOTH", "leverage": "20", "updateTime": 7},
        {"symbol": "ETHUSDT", "positionAmt": "0", "entryPrice": "0",
         "positionSide": "BOTH", "leverage": "5", "updateTime": 3},
        {"symbol": "XRPUSDT", "positionAmt": "0", "entryPrice": "0",
         "positionSide": "BOTH", "leverage": "20", "updateTime": 0},
    ]  # fmt: skip
    assert position_reports(rows) == [
        PositionReport("BTCUSDT", "BOTH", D("0.010"), D(65000), 7),
        PositionReport("ETHUSDT", "BOTH", D(0), D(0), 3),
    ]
    assert row_leverage(rows) == {"BTCUSDT": 20, "ETHUSDT": 5}
