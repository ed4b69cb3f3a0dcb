"""Draws the architecture page's pictures as plain SVG: `python docs/tools/diagrams.py`.

The SVGs are committed (the site loads nothing from elsewhere and needs no drawing tool to
build); tests/unit/project/test_docs_site.py fails when they differ from what this script draws.
"""

import math
import sys
from pathlib import Path
from xml.sax.saxutils import escape

IMG = Path(__file__).resolve().parents[1] / "img"
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"

# Outermost first: each layer imports only the layers inside it.
LAYERS = [
    ("entrypoints", "HTTP (Litestar), web pages, worker (taskiq), CLI, dishka", "#e3ecf7"),
    ("adapters", "SQLAlchemy, ccxt, paper exchange, Redis, Telegram, Plisio", "#d3e4d8"),
    ("application", "one interactor per use case: ReceiveSignal, ...", "#f6e7c8"),
    ("ports", "Protocols: ExchangeGateway, SignalRepository, Clock", "#f3d5d0"),
    ("domain", "rules and models, standard library only", "#ffffff"),
]

# (where it runs, what happens); the architecture page explains each step.
SIGNAL_PATH = [
    ("serve", "POST /webhook: size, sender IP, flood limit; JSON or KEY=VALUE text"),
    ("serve", "ReceiveSignal: the passphrase finds the source (hash, constant time)"),
    ("serve", "read_alert: the dialect becomes an action, narrowed by the source"),
    ("serve", "the symbol must be traded on a connected exchange"),
    ("serve", "stored once with its dedupe key (canonical JSON), committed"),
    ("serve", "one job per fan-out part queued; 202 answered"),
    ("worker", "ExecuteSignal takes a part; parks behind an unfinished earlier signal"),
    ("worker", "plans every account of the part: sizing, caps, rules, guardrails"),
    ("worker", "stores the order intents with deterministic client order ids"),
    ("worker", "OrderSender places them; an unknown outcome is looked up, not resent"),
    ("worker", "results saved; TP/SL placed on the exchange after an entry fills"),
    ("worker", "outbox rows in the same transaction; live events after commit"),
    ("worker", "the last part marks the signal done and queues the next in line"),
]


def _hexagon(cx: float, cy: float, rx: float, ry: float) -> str:
    points = []
    for k in range(6):
        angle = math.radians(60 * k)
        points.append(f"{cx + rx * math.cos(angle):.1f},{cy + ry * math.sin(angle):.1f}")
    return " ".join(points)


def hexagon_svg() -> str:
    width, height = 900, 470
    cx, cy = 235, 255
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='The hexagon: layers of Mimic'>",
        f"<rect width='{width}' height='{height}' fill='#ffffff'/>",
        f"<text x='{width / 2:.0f}' y='28' text-anchor='middle' {FONT} font-size='17' "
        "font-weight='bold'>Each layer imports only the layers inside it "
        "(lint-imports checks it)</text>",
    ]
    for depth, (name, what, colour) in enumerate(LAYERS):
        rx = 225 - depth * 42
        ry = 200 - depth * 40
        parts.append(
            f"<polygon points='{_hexagon(cx, cy, rx, ry)}' fill='{colour}' "
            "stroke='#44546a' stroke-width='1.5'/>"
        )
        # The name sits in the layer's own band, under its top edge (the domain: centred).
        label_y = cy + 5 if depth == len(LAYERS) - 1 else cy - ry * math.sin(math.pi / 3) + 24
        parts.append(
            f"<text x='{cx}' y='{label_y:.0f}' text-anchor='middle' {FONT} font-size='14' "
            f"font-weight='bold' fill='#1f2d3d'>{escape(name)}</text>"
        )
        legend_y = 90 + depth * 70
        parts.append(
            f"<rect x='490' y='{legend_y - 16}' width='22' height='22' fill='{colour}' "
            "stroke='#44546a'/>"
        )
        parts.append(
            f"<text x='524' y='{legend_y}' {FONT} font-size='14' font-weight='bold' "
            f"fill='#1f2d3d'>{escape(name)}</text>"
        )
        parts.append(
            f"<text x='524' y='{legend_y + 20}' {FONT} font-size='12' "
            f"fill='#1f2d3d'>{escape(what)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def signal_path_svg() -> str:
    row, top, width = 38, 60, 820
    height = top + row * len(SIGNAL_PATH) + 20
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label=\"A signal's path in 13 steps\">",
        f"<rect width='{width}' height='{height}' fill='#ffffff'/>",
        f"<text x='{width / 2:.0f}' y='28' text-anchor='middle' {FONT} font-size='17' "
        "font-weight='bold'>A signal's path: from the alert to the orders</text>",
    ]
    lanes = {"serve": ("mimic serve", "#e3ecf7"), "worker": ("mimic worker", "#d3e4d8")}
    for lane, (label, colour) in lanes.items():
        rows = [i for i, (where, _) in enumerate(SIGNAL_PATH) if where == lane]
        y0 = top + rows[0] * row - 6
        y1 = top + (rows[-1] + 1) * row - 10
        parts.append(
            f"<rect x='10' y='{y0}' width='{width - 20}' height='{y1 - y0}' rx='8' "
            f"fill='{colour}' stroke='#44546a'/>"
        )
        parts.append(
            f"<text x='24' y='{(y0 + y1) / 2 + 5:.0f}' {FONT} font-size='13' "
            f"font-weight='bold' fill='#1f2d3d'>{label}</text>"
        )
    for index, (_, what) in enumerate(SIGNAL_PATH):
        y = top + index * row
        parts.append(
            f"<rect x='130' y='{y}' width='{width - 150}' height='{row - 14}' rx='5' "
            "fill='#ffffff' stroke='#44546a'/>"
        )
        parts.append(
            f"<circle cx='150' cy='{y + (row - 14) / 2:.0f}' r='10' fill='#44546a'/>"
            f"<text x='150' y='{y + (row - 14) / 2 + 4:.0f}' text-anchor='middle' {FONT} "
            f"font-size='11' fill='#ffffff'>{index + 1}</text>"
        )
        parts.append(
            f"<text x='170' y='{y + (row - 14) / 2 + 5:.0f}' {FONT} font-size='13' "
            f"fill='#1f2d3d'>{escape(what)}</text>"
        )
        if index + 1 < len(SIGNAL_PATH):
            parts.append(
                f"<line x1='150' y1='{y + row - 14}' x2='150' y2='{y + row}' "
                "stroke='#44546a' stroke-width='2'/>"
            )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


DRAWINGS = {"hexagon.svg": hexagon_svg, "signal-path.svg": signal_path_svg}


def main() -> int:
    IMG.mkdir(exist_ok=True)
    for name, draw in DRAWINGS.items():
        (IMG / name).write_text(draw(), encoding="utf-8")
        print(f"wrote {IMG / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
