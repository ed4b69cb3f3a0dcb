"""Where the repository's files are, for test modules at any depth below tests/."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
XRP_CANDLES = DATA / "XRPUSDT-perp-5m-2021-11-15.csv"  # Binance USD-M 5 m klines
