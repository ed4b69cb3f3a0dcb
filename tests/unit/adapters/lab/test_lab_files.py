"""The lab's files: candles and alerts in their dialects, and `mimic replay` end to end."""

import io
import json
import random
from decimal import Decimal as D
from pathlib import Path

import pytest

from mimic.adapters.lab.inputs import read_alerts, read_candles
from mimic.domain.errors import InvalidField
from mimic.domain.signal import SignalAction
from mimic.entrypoints.cli import main
from mimic.entrypoints.lab import progress_bar
from tests.paths import XRP_CANDLES

KLINE = "1636934400000,1.1893,1.1954,1.1891,1.1941,9289043.5,1636934699999,1.1e7,5000,1,1,0\n"


def test_binance_klines_without_a_header_take_the_symbol_from_the_file_name() -> None:
    series = read_candles(KLINE.encode(), "XRPUSDT-5m-2021-11-15.csv")
    candle = series["XRPUSDT"].candles[0]
    assert (candle.open_time, candle.open, candle.high, candle.low, candle.close) == (
        1636934400000,
        D("1.1893"),
        D("1.1954"),
        D("1.1891"),
        D("1.1941"),
    )


def test_a_symbol_column_splits_one_file_into_markets() -> None:
    text = "symbol,open_time,open,high,low,close\nXRPUSDT,0,1,2,0.5,1\nBTCUSDT,0,10,20,5,10\n"
    assert sorted(read_candles(text.encode(), "mixed.csv")) == ["BTCUSDT", "XRPUSDT"]


def test_ccxt_ohlcv_json_is_read_too() -> None:
    data = json.dumps({"XRP/USDT:USDT": [[1000, 1.0, 1.1, 0.9, 1.05, 7]]}).encode()
    assert read_candles(data, "x.json")["XRPUSDT"].candles[0].close == D("1.05")


def test_a_bad_candle_line_is_refused_with_its_number() -> None:
    text = "open_time,open,high,low,close\n0,1,2,0.5,1\n300000,1,abc,0.5,1\n"
    with pytest.raises(InvalidField, match="line 3"):
        read_candles(text.encode(), "XRPUSDT.csv")


def test_alerts_as_json_lines_in_any_webhook_dialect() -> None:
    lines = [
        {"time": "2021-11-15T00:50:00Z", "ticker": "BINANCE:XRPUSDT.P", "action": "hold"},
        {"time": 1636937400000, "symbol": "XRPUSDT", "action": "flat", "passphrase": "x"},
    ]
    with pytest.raises(InvalidField, match="line 1"):  # "hold" is not an action
        read_alerts("\n".join(json.dumps(x) for x in lines).encode())
    lines[0]["action"] = "buy"  # TradingView's {{strategy.order.action}}
    alerts = read_alerts("\n".join(json.dumps(x) for x in lines).encode())
    assert [(a.time_ms, a.params.symbol, a.params.action) for a in alerts] == [
        (1636937400000, "XRPUSDT", SignalAction.LONG),
        (1636937400000, "XRPUSDT", SignalAction.CLOSE),
    ]


def test_a_tradingview_alert_log_is_read_oldest_first() -> None:
    log = (
        "Alert ID,Ticker,Name,Description,Time\n"
        '2,"BINANCE:XRPUSDT.P",s,"{""symbol"":""XRPUSDT"",""action"":""close""}",'
        "2021-11-15T01:00:00Z\n"
        '1,"BINANCE:XRPUSDT.P",s,"{""symbol"":""XRPUSDT"",""action"":""long"",""tp_perc"":2}",'
        "2021-11-15T00:50:00Z\n"
    )
    alerts = read_alerts(log.encode())
    assert [a.params.action for a in alerts] == [SignalAction.LONG, SignalAction.CLOSE]
    assert alerts[0].params.tp_perc == D(2)


def test_the_next_crossing_is_the_first_candle_that_reaches_a_level() -> None:
    series = read_candles(XRP_CANDLES.read_bytes(), XRP_CANDLES.name)["XRPUSDT"]
    prices = sorted({c.low for c in series.candles} | {c.high for c in series.candles})
    chooser = random.Random(19)
    for _ in range(300):
        start = chooser.randrange(len(series))
        below = chooser.choice([None, *prices])
        above = chooser.choice([None, *prices])
        expected = next(
            (
                i
                for i in range(start, len(series))
                if (below is not None and series.candles[i].low <= below)
                or (above is not None and series.candles[i].high >= above)
            ),
            None,
        )
        assert series.next_crossing(start, below=below, above=above) == expected


def _replay(tmp_path: Path, out: str, *extra: str) -> Path:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text(
        "\n".join(
            json.dumps(line)
            for line in (
                {
                    "time": "2021-11-15T00:50:00Z",
                    "symbol": "XRPUSDT",
                    "action": "long",
                    "sl_perc": 1,
                },
                {
                    "time": "2021-11-16T17:40:00Z",
                    "symbol": "XRPUSDT",
                    "action": "short",
                    "tp_perc": 3,
                },
                {"time": "2021-11-18T03:00:00Z", "symbol": "XRPUSDT", "action": "close"},
            )
        )
    )
    followers = tmp_path / "followers.json"
    followers.write_text(
        json.dumps(
            [
                {"name": "alice", "equity": 1000, "settings": {"risk_perc": 5, "leverage": 10}},
                {
                    "name": "bob",
                    "equity": 500,
                    "settings": {
                        "trailing": {"enabled": True, "activation_perc": 1, "callback_perc": 0.5},
                        "dca": {
                            "enabled": True,
                            "trigger_drawdown_perc": 1,
                            "size_multiplier": 1,
                            "max_adds": 2,
                        },
                        "drawdown_stop_perc": 2,
                    },
                },
            ]
        )
    )
    target = tmp_path / out
    assert _mimic_replay(alerts, followers, target, *extra) == 0
    return target


def _mimic_replay(alerts: Path, followers: Path, out: Path, *extra: str) -> object:
    """The exit code of `mimic replay` over the XRP candles."""
    args = ["--candles", str(XRP_CANDLES), "--alerts", str(alerts), "--followers", str(followers)]
    with pytest.raises(SystemExit) as exit_code:
        main(["replay", *args, "--out", str(out), *extra])
    return exit_code.value.code


def test_replay_writes_the_report_and_is_byte_for_byte_deterministic(tmp_path: Path) -> None:
    first = _replay(tmp_path, "one", "--fee-bps", "4", "--slippage-bps", "2")
    second = _replay(tmp_path, "two", "--fee-bps", "4", "--slippage-bps", "2")
    names = ("report.json", "trades.csv", "equity.png", "equity.html")
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    report = json.loads((first / "report.json").read_text())
    assert [f["name"] for f in report["followers"]] == ["alice", "bob"]
    for account in (report["master"], *report["followers"]):
        assert set(account) >= {
            "name",
            "trades",
            "net_pnl",
            "roi_perc",
            "max_drawdown_perc",
            "final_equity",
            "win_rate_perc",
            "skipped",
        }
        assert account["trades"] == 2
    # The master's SL: 1.209 x 0.99 = 1.19691, on the tick grid above: 1.1970.
    trades = (first / "trades.csv").read_text().splitlines()
    assert trades[0] == "time,account,symbol,kind,side,quantity,price,fee,realized_pnl"
    assert trades[2].startswith("2021-11-15T13:40:00Z,master,XRPUSDT,stop_loss,sell,413.5,")
    assert (first / "equity.png").read_bytes().startswith(b"\x89PNG")
    assert "equity-data" in (first / "equity.html").read_text()


def test_bad_followers_are_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alerts = tmp_path / "a.jsonl"
    alerts.write_text('{"time": 0, "symbol": "XRPUSDT", "action": "long"}\n')
    followers = tmp_path / "f.json"
    followers.write_text(json.dumps([{"name": "x", "equity": 10, "settings": {"risk_perc": 50}}]))
    assert _mimic_replay(alerts, followers, tmp_path / "out") == 2
    assert "followers[0].settings.risk_perc" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_shows_on_a_terminal_only() -> None:
    assert progress_bar(3, io.StringIO()) is None
    terminal = _Terminal()
    show = progress_bar(4, terminal)
    assert show is not None
    show(2)
    show(4)
    assert terminal.getvalue() == (
        f"\rreplay [{'#' * 15}{'.' * 15}] 2/4 accounts\rreplay [{'#' * 30}] 4/4 accounts\n"
    )
