"""What a Binance account's streamed state may stand for in planning, and what it may not
(then the position is read by REST)."""

from decimal import Decimal

import pytest

from mimic.adapters.ccxt.streamed_positions import (
    Unknown,
    position_reports,
    row_leverage,
    streamed_equity,
    streamed_position,
    wallet_reports,
)
from mimic.domain.positions import Position, PositionSide
from mimic.ports.streamed_accounts import PositionReport, SymbolState, WalletReport

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


def flat(**wallets: str) -> SymbolState:
    return SymbolState((), None, {asset: D(v) for asset, v in wallets.items()})


def test_the_equity_of_a_flat_usdt_account_is_its_wallet() -> None:
    assert streamed_equity(flat(USDT="1234.5")) == D("1234.5")
    assert streamed_equity(flat(USDT="1234.5", BNB="0")) == D("1234.5")  # none left


def test_the_equity_is_read_by_rest_when_the_state_cannot_say() -> None:
    assert streamed_equity(None) is None
    assert streamed_equity(SymbolState((), None)) is None  # held, pending or never seeded
    # Another margin asset (multi-assets mode, BNB for fees): the REST read decides.
    assert streamed_equity(flat(USDT="1000", BNB="0.5")) is None
    assert streamed_equity(flat(USDT="1000", USDC="-3")) is None


def test_wallets_are_read_from_the_account_assets() -> None:
    account = {"assets": [
        {"asset": "USDT", "walletBalance": "1000.5", "updateTime": 7},
        {"asset": "BNB", "walletBalance": "0.00000000", "updateTime": 0},
    ]}  # fmt: skip
    assert wallet_reports(account) == [
        WalletReport("USDT", D("1000.5"), 7),
        WalletReport("BNB", D(0), 0),
    ]
