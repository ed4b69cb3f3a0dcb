"""The lab's input files: candles (Binance kline CSV, ccxt OHLCV JSON) and a master's alerts
(JSON lines, or TradingView's exported alert log CSV).

Every malformed line is refused with its line number: a replay of half a file would look
like a result.
"""

import csv
import io
import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mimic.domain.alerts import read_alert
from mimic.domain.errors import InvalidField
from mimic.domain.lab.candles import Candle, CandleSeries
from mimic.domain.lab.timeline import Alert
from mimic.domain.symbols import normalize_symbol

_TIME_COLUMNS = ("open_time", "timestamp_ms", "timestamp", "time", "date")
_PRICE_COLUMNS = ("open", "high", "low", "close")
# Keys of an alert line that are not the webhook's payload.
_NOT_PAYLOAD = frozenset({"time", "passphrase"})


def symbol_from_name(filename: str) -> str | None:
    """Binance's data files are named SYMBOL-interval-date.csv (here also SYMBOL-perp-...)."""
    stem = filename.rsplit("/", 1)[-1].split(".", 1)[0]
    try:
        return normalize_symbol(stem.split("-", 1)[0].split("_", 1)[0])
    except InvalidField:
        return None


def read_candles(data: bytes, filename: str) -> dict[str, CandleSeries]:
    """Candles by symbol; the symbol comes from a `symbol` column, a JSON object's keys or
    the file name."""
    text = data.decode("utf-8-sig")
    if text.lstrip().startswith(("[", "{")):
        rows_by_symbol = _json_candles(text, filename)
    else:
        rows_by_symbol = _csv_candles(text, filename)
    return {
        symbol: CandleSeries(symbol, candles) for symbol, candles in sorted(rows_by_symbol.items())
    }


def _default_symbol(filename: str) -> str:
    symbol = symbol_from_name(filename)
    if symbol is None:
        raise InvalidField(
            "candles", f"{filename}: no symbol column and no symbol in the file name"
        )
    return symbol


def _csv_candles(text: str, filename: str) -> dict[str, list[Candle]]:
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(c.strip() for c in row)]
    if not rows:
        raise InvalidField("candles", f"{filename} is empty")
    header = [cell.strip().lower() for cell in rows[0]]
    columns = list(range(5))  # Binance's layout: open_time, open, high, low, close, ...
    symbol_column = None
    first_line = 1
    if not _is_number(header[0]):
        first_line = 2
        body = rows[1:]
        symbol_column = header.index("symbol") if "symbol" in header else None
        time_column = next((header.index(name) for name in _TIME_COLUMNS if name in header), None)
        if time_column is None or any(name not in header for name in _PRICE_COLUMNS):
            raise InvalidField(
                "candles", f"{filename}: the header needs open_time, open, high, low, close"
            )
        columns = [time_column, *(header.index(name) for name in _PRICE_COLUMNS)]
    else:
        body = rows
    default = None if symbol_column is not None else _default_symbol(filename)
    by_symbol: dict[str, list[Candle]] = defaultdict(list)
    time_at, open_at, high_at, low_at, close_at = columns
    for number, row in enumerate(body, start=first_line):
        try:
            symbol = normalize_symbol(row[symbol_column]) if symbol_column is not None else default
            candle = _candle([row[time_at], row[open_at], row[high_at], row[low_at], row[close_at]])
        except (IndexError, InvalidField, InvalidOperation, ValueError) as exc:
            raise InvalidField("candles", f"{filename} line {number}: {exc}") from None
        assert symbol is not None
        by_symbol[symbol].append(candle)
    return by_symbol


def _json_candles(text: str, filename: str) -> dict[str, list[Candle]]:
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InvalidField("candles", f"{filename} is not valid JSON: {exc}") from None
    lists = (
        {normalize_symbol(str(k)): v for k, v in document.items()}
        if isinstance(document, dict)
        else {_default_symbol(filename): document}
    )
    by_symbol: dict[str, list[Candle]] = {}
    for symbol, rows in lists.items():
        if not isinstance(rows, list):
            raise InvalidField("candles", f"{filename}: {symbol} must be a list of [t, o, h, l, c]")
        try:
            by_symbol[symbol] = [_candle(list(row)[:5]) for row in rows]
        except (TypeError, InvalidOperation, ValueError) as exc:
            raise InvalidField("candles", f"{filename}: {symbol}: {exc}") from None
    return by_symbol


def _candle(cells: list[Any]) -> Candle:
    if len(cells) < 5:
        raise ValueError("a candle needs open_time, open, high, low, close")
    stamp = cells[0]
    time_ms = int(stamp) if isinstance(stamp, int) else int(Decimal(str(stamp).strip()))
    if time_ms > 10**14:  # Binance's newer files count microseconds
        time_ms //= 1000
    candle = Candle(time_ms, *map(_price, cells[1:5]))
    if not (candle.low.is_finite() and candle.high.is_finite() and candle.low > 0):
        raise ValueError("prices must be positive numbers")
    return candle


def _price(cell: object) -> Decimal:
    return Decimal(cell.strip() if isinstance(cell, str) else str(cell))


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def alert_time_ms(value: object) -> int:
    """Epoch milliseconds from ISO-8601 text (UTC when it names no zone) or epoch ms."""
    if isinstance(value, bool) or value is None:
        raise ValueError("time is required: ISO-8601 or epoch milliseconds")
    if isinstance(value, int | float | Decimal) or (isinstance(value, str) and _is_number(value)):
        return int(Decimal(str(value)))
    if not isinstance(value, str):
        raise ValueError(f"time {value!r} is neither ISO-8601 nor epoch milliseconds")
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def read_alerts(data: bytes, filename: str = "alerts") -> list[Alert]:
    """JSON lines, or a TradingView alert log (CSV whose Description column is the message)."""
    text = data.decode("utf-8-sig")
    first = text.lstrip().split("\n", 1)[0]
    if not first.startswith("{") and "description" in first.lower():
        return _tradingview_log(text, filename)
    alerts = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("each line must be a JSON object")
            payload = record.get("payload", record)
            if isinstance(payload, str):
                payload = json.loads(payload)
            if not isinstance(payload, dict):
                raise ValueError("payload must be a JSON object")
            alerts.append(_alert(record.get("time"), payload))
        except (InvalidField, ValueError) as exc:
            raise InvalidField("alerts", f"{filename} line {number}: {exc}") from None
    return alerts


def _tradingview_log(text: str, filename: str) -> list[Alert]:
    reader = csv.DictReader(io.StringIO(text))
    fields = {name.strip().lower(): name for name in reader.fieldnames or []}
    if "time" not in fields:
        raise InvalidField("alerts", f"{filename}: the alert log has no Time column")
    alerts = []
    for number, row in enumerate(reader, start=2):
        try:
            message = json.loads(row[fields["description"]])
            if not isinstance(message, dict):
                raise ValueError("the Description must be the alert's JSON message")
            alerts.append(_alert(row[fields["time"]], message))
        except (InvalidField, ValueError) as exc:
            raise InvalidField("alerts", f"{filename} line {number}: {exc}") from None
    # The log lists the newest alert first.
    return sorted(alerts, key=lambda a: a.time_ms)


def _alert(time: object, payload: dict[str, Any]) -> Alert:
    values = {k: v for k, v in payload.items() if k not in _NOT_PAYLOAD}
    return Alert(time_ms=alert_time_ms(time), params=read_alert(values))
