"""The strategy lab over one year of 5-minute candles, against a floor measured in the same run.

One year of XRPUSDT 5-minute candles (105,120; a seeded random walk, since the repository
ships only a week of real ones), 200 alerts and 100 followers with mixed settings (risk,
leverage, TP/SL, trailing stops, DCA, daily guardrails), through the same path as
`mimic replay` (files read, replayed, report written). The floor only reads the candle file
and iterates its candles. Prints last:
    replay seconds=S candles=N followers=F floor_seconds=X ratio=S/X rss_mb=M
"""

import argparse
import csv
import json
import random
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mimic.adapters.lab.inputs import read_candles
from mimic.adapters.lab.outputs import render_outputs, write_outputs
from mimic.domain.risk import PlatformRiskSettings
from mimic.entrypoints.lab import inputs_summary, load_run, run

START_MS = 1_609_459_200_000  # 2021-01-01 00:00 UTC
STEP_MS = 300_000


def write_candles(path: Path, count: int, rng: random.Random) -> None:
    price = 1.0
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        for i in range(count):
            open_ = price
            close = max(0.05, open_ * (1 + rng.gauss(0, 0.003)))
            high = max(open_, close) * (1 + abs(rng.gauss(0, 0.0015)))
            low = min(open_, close) * (1 - abs(rng.gauss(0, 0.0015)))
            writer.writerow(
                [START_MS + i * STEP_MS, *(f"{p:.4f}" for p in (open_, high, low, close)), 1000]
            )
            price = close


def write_alerts(path: Path, count: int, candles: int, rng: random.Random) -> None:
    times = sorted(rng.sample(range(candles), count))
    lines = []
    for index in times:
        alert: dict[str, object] = {
            "time": START_MS + index * STEP_MS,
            "symbol": "BINANCE:XRPUSDT.P",
            "action": rng.choice(["long", "short", "long", "short", "close"]),
        }
        if rng.random() < 0.5:
            alert["tp_perc"] = rng.choice([1, 2, 3, 5])
            alert["sl_perc"] = rng.choice([0.5, 1, 2])
        lines.append(json.dumps(alert))
    path.write_text("\n".join(lines) + "\n")


def write_followers(path: Path, count: int, rng: random.Random) -> None:
    followers = []
    for n in range(count):
        settings: dict[str, object] = {
            "risk_perc": rng.choice([1, 2, 5, 10]),
            "leverage": rng.choice([1, 3, 5, 10, 20]),
        }
        if n % 2 == 0:
            settings["tp_perc"], settings["sl_perc"] = rng.choice([2, 4]), rng.choice([1, 2])
        if n % 3 == 0:
            settings["trailing"] = {"enabled": True, "activation_perc": 1, "callback_perc": 0.5}
        if n % 4 == 0:
            settings["dca"] = {
                "enabled": True,
                "trigger_drawdown_perc": rng.choice([1, 2]),
                "size_multiplier": 1,
                "max_adds": rng.choice([1, 2, 3]),
                "spacing_perc": 0.5,
                "spacing_seconds": 600,
            }
        if n % 5 == 0:
            settings["drawdown_stop_perc"] = 3
            settings["close_all_on_drawdown"] = n % 10 == 0
        if n % 7 == 0:
            settings["profit_lock_perc"] = 5
        followers.append(
            {"name": f"f{n:03d}", "equity": rng.choice([100, 1000, 5000]), "settings": settings}
        )
    path.write_text(json.dumps(followers))


def floor(candles_path: Path) -> float:
    """Read the candle file and iterate its candles: what any replay must at least do."""
    started = time.perf_counter()
    series = read_candles(candles_path.read_bytes(), candles_path.name)
    highest = Decimal(0)
    for one in series.values():
        for candle in one.candles:
            highest = max(highest, candle.high)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candles", type=int, default=105_120)
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--followers", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(2021)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        candles_path = folder / "XRPUSDT-5m-2021.csv"
        write_candles(candles_path, args.candles, rng)
        write_alerts(folder / "alerts.jsonl", args.alerts, args.candles, rng)
        write_followers(folder / "followers.json", args.followers, rng)
        floor_seconds = floor(candles_path)
        platform = PlatformRiskSettings()
        started, cpu_started = time.perf_counter(), time.process_time()
        lab = load_run(
            [(candles_path.read_bytes(), candles_path.name)],
            ((folder / "alerts.jsonl").read_bytes(), "alerts.jsonl"),
            (folder / "followers.json").read_bytes(),
            fee_bps=Decimal(4),
            slippage_bps=Decimal(2),
            master_equity=Decimal(10000),
            platform=platform,
        )
        result = run(lab, platform)
        write_outputs(folder / "out", render_outputs(result, inputs_summary(lab)))
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        fills = sum(len(a.book.fills) for a in (result.master, *result.followers))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # On a shared machine the CPU time shows what the wall time owes to the neighbours.
    print(f"fills={fills} cpu_seconds={cpu_seconds:.2f}", file=sys.stderr)
    print(
        f"replay seconds={seconds:.2f} candles={args.candles} followers={args.followers} "
        f"floor_seconds={floor_seconds:.2f} ratio={seconds / floor_seconds:.2f} rss_mb={rss_mb:.0f}"
    )


if __name__ == "__main__":
    main()
