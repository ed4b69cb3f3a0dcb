"""A master's trading signal as received from a TradingView alert."""

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from mimic.domain.errors import InvalidField
from mimic.domain.fanout import FanoutPart, all_parts
from mimic.domain.symbols import normalize_symbol

MAX_RISK_PERC = Decimal(100)
MAX_LEVERAGE = 125
MAX_TP_PERC = Decimal(1000)
MAX_SL_PERC = Decimal(100)
MAX_EXTERNAL_ID_LENGTH = 128
MAX_DIGITS = 12  # no alert value needs more; stops 1e-999999999 from reaching storage


class SignalAction(enum.StrEnum):
    LONG = "long"
    SHORT = "short"
    CLOSE = "close"


class SignalStatus(enum.StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class SignalParams:
    """Validated, normalised content of an alert."""

    symbol: str
    action: SignalAction
    risk_perc: Decimal | None = None
    leverage: int | None = None
    tp_perc: Decimal | None = None
    sl_perc: Decimal | None = None
    external_id: str | None = None


def _decimal(field: str, value: object) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise InvalidField(field, "must be a number")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise InvalidField(field, f"{value!r} is not a number") from None
    if not result.is_finite():
        raise InvalidField(field, "must be a finite number")
    if result != 0 and (result.adjusted() > MAX_DIGITS or result.adjusted() < -MAX_DIGITS):
        raise InvalidField(field, f"{value!r} is out of range")
    return result


def _in_range(field: str, value: Decimal | None, upper: Decimal, *, inclusive: bool) -> None:
    if value is None:
        return
    if value <= 0:
        raise InvalidField(field, "must be greater than 0")
    if value > upper or (not inclusive and value == upper):
        bound = "at most" if inclusive else "below"
        raise InvalidField(field, f"must be {bound} {upper}")


def parse_signal(
    *,
    symbol: object,
    action: object,
    risk_perc: object = None,
    leverage: object = None,
    tp_perc: object = None,
    sl_perc: object = None,
    external_id: object = None,
) -> SignalParams:
    """Validate raw alert values; raise `InvalidField` naming the first bad field."""
    if not isinstance(symbol, str) or not symbol.strip():
        raise InvalidField("symbol", "is required")
    if not isinstance(action, str):
        raise InvalidField("action", "is required: long, short or close")
    word = action.strip().lower()
    try:
        # "flat" is what {{strategy.market_position}} says after an exit.
        parsed_action = SignalAction.CLOSE if word == "flat" else SignalAction(word)
    except ValueError:
        raise InvalidField(
            "action", f"{action!r} is not one of long, short, close (or flat)"
        ) from None
    risk = _decimal("risk_perc", risk_perc)
    _in_range("risk_perc", risk, MAX_RISK_PERC, inclusive=True)
    lev = _decimal("leverage", leverage)
    if lev is not None and lev != lev.to_integral_value():
        raise InvalidField("leverage", "must be a whole number")
    _in_range("leverage", lev, Decimal(MAX_LEVERAGE), inclusive=True)
    tp = _decimal("tp_perc", tp_perc)
    _in_range("tp_perc", tp, MAX_TP_PERC, inclusive=True)
    sl = _decimal("sl_perc", sl_perc)
    _in_range("sl_perc", sl, MAX_SL_PERC, inclusive=False)
    if external_id is not None:
        if not isinstance(external_id, str | int) or isinstance(external_id, bool):
            raise InvalidField("id", "must be a string")
        external_id = str(external_id).strip() or None
        if external_id is not None and len(external_id) > MAX_EXTERNAL_ID_LENGTH:
            raise InvalidField("id", f"must be at most {MAX_EXTERNAL_ID_LENGTH} characters")
    return SignalParams(
        symbol=normalize_symbol(symbol),
        action=parsed_action,
        risk_perc=risk,
        leverage=int(lev) if lev is not None else None,
        tp_perc=tp,
        sl_perc=sl,
        external_id=external_id,
    )


def dedupe_key(params: SignalParams, content: bytes) -> str:
    """Key under which a repeat of the same alert collapses into the first one (per source).

    With an explicit `id` the key is that id and never expires. Without one it is a hash
    of the alert's `content` (canonical: whitespace and key order do not count); such keys
    only count as duplicates within the dedupe window, which covers TradingView's resends
    (5 s apart, at most 3 times).
    """
    if params.external_id is not None:
        return f"id:{params.external_id}"
    return f"body:{hashlib.sha256(content).hexdigest()}"


def key_expires(key: str) -> bool:
    return key.startswith("body:")


@dataclass(slots=True)
class Signal:
    id: str
    source_id: str
    params: SignalParams
    dedupe_key: str
    received_at: datetime
    status: SignalStatus = SignalStatus.RECEIVED
    # Its fan-out runs in this many parts (domain.fanout); done when every part finished.
    fanout_parts: int = 1
    finished_parts: frozenset[int] = frozenset()
    # The master's reference for copy fidelity: the first mark price the fan-out read for
    # the symbol, and when (None until a part has read one).
    reference_price: Decimal | None = None
    reference_at: datetime | None = None

    def unfinished_parts(self) -> list[FanoutPart]:
        if self.status is SignalStatus.DONE:
            return []
        return [p for p in all_parts(self.fanout_parts) if p.index not in self.finished_parts]
