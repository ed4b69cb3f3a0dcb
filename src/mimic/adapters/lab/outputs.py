"""What a replay writes: report.json, trades.csv, equity.png and equity.html.

Byte for byte the same for the same inputs: no clock, no random ids, fixed key order.
"""

import csv
import html
import io
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from mimic.adapters.lab.png import MASTER_COLOR, PALETTE, Color, line_chart
from mimic.domain.lab.accounts import ReplayResult
from mimic.domain.lab.report import AccountSummary, summarize
from mimic.domain.lab.runs import LabOutputs

EVENT_ORDER = (
    "An alert executes at the open of the first candle opening at or after its time (within "
    "one candle interval, else it is skipped). Inside "
    "a candle a long sees open, low, high, close and a short open, high, low, close: a stop "
    "and a target in the same candle count as the stop. A level reached inside a candle "
    "fills at that level, a candle opening beyond it fills at its open."
)
TRADE_COLUMNS = (
    "time",
    "account",
    "symbol",
    "kind",
    "side",
    "quantity",
    "price",
    "fee",
    "realized_pnl",
)
_TABLE_KEYS = ("name", "trades", "net_pnl", "roi_perc", "max_drawdown_perc", "win_rate_perc")


def iso(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def summary_json(summary: AccountSummary) -> dict[str, Any]:
    return {
        "name": summary.name,
        "start_equity": _number(summary.start_equity),
        "trades": summary.trades,
        "net_pnl": _number(summary.net_pnl),
        "roi_perc": _number(summary.roi_perc),
        "max_drawdown_perc": _number(summary.max_drawdown_perc),
        "final_equity": _number(summary.final_equity),
        "win_rate_perc": _number(summary.win_rate_perc),
        "fees": _number(summary.fees),
        "skipped": summary.skipped,
    }


def report_json(result: ReplayResult, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "inputs": {**inputs, "event_order": EVENT_ORDER},
        "master": summary_json(summarize(result.master)),
        "followers": [summary_json(summarize(f)) for f in result.followers],
    }


def trades_csv(result: ReplayResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TRADE_COLUMNS)
    for account in (result.master, *result.followers):
        for fill in account.book.fills:
            writer.writerow(
                (
                    fill.at.isoformat().replace("+00:00", "Z"),
                    account.name,
                    fill.symbol,
                    fill.kind.value,
                    fill.side.value,
                    fill.quantity,
                    fill.price.normalize(),
                    fill.fee.normalize(),
                    fill.realized_pnl.normalize(),
                )
            )
    return out.getvalue()


def equity_curves(result: ReplayResult) -> list[tuple[str, list[float]]]:
    """Equity as a percentage of each account's start, so that all share one scale."""
    curves = []
    for account in (result.master, *result.followers):
        start = float(account.start_equity)
        curves.append((account.name, [round(float(e) / start * 100, 2) for e in account.equity]))
    return curves


def _color(n: int) -> Color:
    """The master (first) in black, the followers through the palette."""
    return MASTER_COLOR if n == 0 else PALETTE[(n - 1) % len(PALETTE)]


def equity_png(curves: list[tuple[str, list[float]]]) -> bytes:
    return line_chart([(points, _color(n)) for n, (_, points) in enumerate(curves)])


def equity_html(
    result: ReplayResult, curves: list[tuple[str, list[float]]], report: Mapping[str, Any]
) -> str:
    """One page, no external asset: an SVG of the equity curves, the figures, the data."""
    width, height, margin = 1000, 500, 20
    values = [v for _, points in curves for v in points] or [100.0]
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1, high + 1
    lines = []
    for n, (name, points) in enumerate(curves):
        color = _color(n)
        step = (width - 2 * margin) / max(len(points) - 1, 1)
        coords = " ".join(
            f"{margin + i * step:.1f},"
            f"{height - margin - (v - low) / (high - low) * (height - 2 * margin):.1f}"
            for i, v in enumerate(points)
        )
        lines.append(
            f'<polyline fill="none" stroke="rgb{color}" stroke-width="{2 if n == 0 else 1}" '
            f'points="{coords}"><title>{html.escape(name)}</title></polyline>'
        )
    rows = "".join(
        f'<tr><td><span style="color:rgb{_color(n)}">&#9632;</span> '
        + "</td><td>".join(html.escape(str(s[key])) for key in _TABLE_KEYS)
        + "</td></tr>"
        for n, s in enumerate((report["master"], *report["followers"]))
    )
    data = json.dumps(
        {"sample_times": [iso(t) for t in result.sample_times], "equity_perc": dict(curves)},
        separators=(",", ":"),
    ).replace("</", "<\\/")
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Mimic replay</title>'
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:right}"
        "td:first-child{text-align:left}</style></head><body>"
        f"<h1>Replay: equity in % of the start</h1><p>{iso(result.sample_times[0])} to "
        f"{iso(result.sample_times[-1])}; from {low:.2f}% to {high:.2f}%; master in black.</p>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'style="border:1px solid #ccc">{"".join(lines)}</svg>'
        "<table><tr><th>account</th><th>trades</th><th>net PnL</th><th>ROI %</th>"
        f"<th>max drawdown %</th><th>win rate %</th></tr>{rows}</table>"
        f'<script type="application/json" id="equity-data">{data}</script>'
        "</body></html>\n"
    )


def render_outputs(result: ReplayResult, inputs: Mapping[str, Any]) -> LabOutputs:
    report = report_json(result, inputs)
    curves = equity_curves(result)
    return LabOutputs(
        report_json=json.dumps(report, indent=2) + "\n",
        trades_csv=trades_csv(result),
        equity_png=equity_png(curves),
        equity_html=equity_html(result, curves, report),
    )


def write_outputs(out_dir: Path, outputs: LabOutputs) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(outputs.report_json, "utf-8")
    (out_dir / "trades.csv").write_text(outputs.trades_csv, "utf-8")
    (out_dir / "equity.png").write_bytes(outputs.equity_png)
    (out_dir / "equity.html").write_text(outputs.equity_html, "utf-8")
