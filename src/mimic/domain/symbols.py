"""TradingView writes symbols as `BTCUSDT`, `BTCUSDT.P`, `BINANCE:BTCUSDT.P`, `BTCUSDTPERP`."""

import re

from mimic.domain.errors import InvalidField

_VALID = re.compile(r"^[A-Z0-9]{2,30}$")
_PERP_SUFFIXES = (".P", ".PERP", "PERP")


def normalize_symbol(raw: str) -> str:
    """Return the exchange-neutral symbol (`BTCUSDT`) or raise `InvalidField('symbol')`."""
    text = raw.strip().upper()
    if "/" in text:
        text = text.split(":", 1)[0]  # ccxt's unified form: BTC/USDT:USDT
    elif ":" in text:
        text = text.rsplit(":", 1)[1]  # TradingView's exchange prefix: BINANCE:BTCUSDT.P
    for suffix in _PERP_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    text = text.replace("/", "").replace("-", "").replace("_", "")
    if not _VALID.fullmatch(text):
        raise InvalidField(
            "symbol", f"{raw!r} is not a symbol such as BTCUSDT or BINANCE:BTCUSDT.P"
        )
    return text
