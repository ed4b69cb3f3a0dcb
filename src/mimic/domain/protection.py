"""Position protection: take-profit / stop-loss prices and the follower's protection settings.

Prices are rounded to the market's tick size on the safe side: towards the entry price, so a
stop never loses more than asked and a take-profit is never further away than asked.
"""

import hashlib
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from mimic.domain.errors import InvalidField
from mimic.domain.positions import PositionSide
from mimic.domain.signal import MAX_SL_PERC, MAX_TP_PERC

MAX_TRAILING_PERC = Decimal(100)
MAX_DCA_ADDS = 10
MAX_DCA_MULTIPLIER = Decimal(10)
MAX_DCA_PERC = Decimal(100)


@dataclass(frozen=True, slots=True)
class ProtectivePrices:
    stop_loss: Decimal | None
    take_profit: Decimal | None

    @property
    def empty(self) -> bool:
        return self.stop_loss is None and self.take_profit is None


def _to_tick(price: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    ticks = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return (ticks * tick).quantize(tick)


def protective_prices(
    side: PositionSide,
    entry_price: Decimal,
    *,
    tp_perc: Decimal | None,
    sl_perc: Decimal | None,
    tick_size: Decimal,
) -> ProtectivePrices:
    """TP/SL `tp_perc` / `sl_perc` percent away from the entry, on the tick grid.

    A long's stop is below its entry and rounds up; its take-profit is above and rounds
    down. A short's are mirrored. A percentage that leaves no price above zero is invalid.
    """
    if entry_price <= 0:
        raise InvalidField("entry_price", "must be greater than 0")
    long = side is PositionSide.LONG
    stop = take = None
    if sl_perc is not None:
        _check_perc("sl_perc", sl_perc, MAX_SL_PERC)
        raw = entry_price * (1 - sl_perc / 100) if long else entry_price * (1 + sl_perc / 100)
        stop = _to_tick(raw, tick_size, up=long)
        if stop <= 0 or stop == entry_price:
            raise InvalidField(
                "sl_perc", f"{sl_perc}% leaves no stop price for entry {entry_price}"
            )
    if tp_perc is not None:
        _check_perc("tp_perc", tp_perc, MAX_TP_PERC)
        raw = entry_price * (1 + tp_perc / 100) if long else entry_price * (1 - tp_perc / 100)
        take = _to_tick(raw, tick_size, up=not long)
        if take <= 0 or take == entry_price:
            raise InvalidField(
                "tp_perc", f"{tp_perc}% leaves no take-profit price for entry {entry_price}"
            )
    return ProtectivePrices(stop_loss=stop, take_profit=take)


def check_protective_prices(
    side: PositionSide, mark_price: Decimal, prices: ProtectivePrices
) -> None:
    """A stop must be on the losing side of the mark price and a take-profit on the winning
    side; otherwise it would trigger at once (Binance refuses such an order)."""
    long = side is PositionSide.LONG
    if prices.stop_loss is not None:
        wrong = prices.stop_loss >= mark_price if long else prices.stop_loss <= mark_price
        if wrong:
            where = "below" if long else "above"
            raise InvalidField(
                "stop_loss",
                f"{prices.stop_loss} must be {where} the mark price {mark_price} of a {side}",
            )
    if prices.take_profit is not None:
        wrong = prices.take_profit <= mark_price if long else prices.take_profit >= mark_price
        if wrong:
            where = "above" if long else "below"
            raise InvalidField(
                "take_profit",
                f"{prices.take_profit} must be {where} the mark price {mark_price} of a {side}",
            )


# Every client id of Mimic's native TP/SL orders starts with this.
PROTECTIVE_PREFIX = "mp-"


def protective_prefix(anchor_client_order_id: str, revision: int = 0) -> str:
    """Client order id prefix of the TP/SL orders protecting the position that the order
    `anchor_client_order_id` opened; a new `revision` after each DCA add (Binance ids are
    unique among open orders only, and the old orders may not be cancelled yet)."""
    digest = hashlib.sha256(f"{anchor_client_order_id}:protect:{revision}".encode()).hexdigest()
    return PROTECTIVE_PREFIX + digest[:29]  # 32 characters, + "sl" / "tp" = 34 <= 36


def _check_perc(name: str, value: Decimal, upper: Decimal) -> None:
    if not value.is_finite() or value <= 0 or value > upper:
        raise InvalidField(name, f"must be greater than 0 and at most {upper}")


@dataclass(frozen=True, slots=True)
class TrailingSettings:
    enabled: bool = False
    activation_perc: Decimal | None = None
    callback_perc: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DcaSettings:
    enabled: bool = False
    trigger_drawdown_perc: Decimal | None = None
    size_multiplier: Decimal | None = None
    max_adds: int | None = None
    spacing_perc: Decimal | None = None
    spacing_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class ProtectionSettings:
    """A follower's protection: TP/SL defaults (the signal's values win), trailing, DCA."""

    tp_perc: Decimal | None = None
    sl_perc: Decimal | None = None
    trailing: TrailingSettings = field(default_factory=TrailingSettings)
    dca: DcaSettings = field(default_factory=DcaSettings)

    @property
    def monitored(self) -> bool:
        """Whether the position monitor watches this follower's positions (TP/SL do not
        need it: they live on the exchange)."""
        return self.trailing.enabled or self.dca.enabled


def validate_protection(settings: ProtectionSettings) -> None:
    """Raises `InvalidField` naming the first bad field (as the API spells it)."""
    if settings.tp_perc is not None:
        _check_perc("tp_perc", settings.tp_perc, MAX_TP_PERC)
    if settings.sl_perc is not None:
        _check_perc("sl_perc", settings.sl_perc, MAX_SL_PERC)
        if settings.sl_perc >= MAX_SL_PERC:
            raise InvalidField("sl_perc", f"must be below {MAX_SL_PERC}")
    _validate_trailing(settings.trailing)
    _validate_dca(settings.dca)


def _validate_trailing(trailing: TrailingSettings) -> None:
    activation, callback = trailing.activation_perc, trailing.callback_perc
    if activation is not None:
        _check_perc("trailing.activation_perc", activation, MAX_TRAILING_PERC)
    if callback is not None:
        _check_perc("trailing.callback_perc", callback, MAX_TRAILING_PERC)
    if trailing.enabled:
        if activation is None:
            raise InvalidField("trailing.activation_perc", "is required when trailing is enabled")
        if callback is None:
            raise InvalidField("trailing.callback_perc", "is required when trailing is enabled")
    if activation is not None and callback is not None and callback >= activation:
        # A stop placed callback% below the activation price would sit at or below the
        # entry: the "trailing stop" could close at a loss.
        raise InvalidField(
            "trailing.callback_perc",
            f"must be smaller than trailing.activation_perc ({activation})",
        )


def _validate_dca(dca: DcaSettings) -> None:
    if dca.trigger_drawdown_perc is not None:
        _check_perc("dca.trigger_drawdown_perc", dca.trigger_drawdown_perc, MAX_DCA_PERC)
        if dca.trigger_drawdown_perc >= MAX_DCA_PERC:
            raise InvalidField("dca.trigger_drawdown_perc", f"must be below {MAX_DCA_PERC}")
    if dca.size_multiplier is not None:
        _check_perc("dca.size_multiplier", dca.size_multiplier, MAX_DCA_MULTIPLIER)
    if dca.max_adds is not None and not 1 <= dca.max_adds <= MAX_DCA_ADDS:
        raise InvalidField("dca.max_adds", f"must be a whole number from 1 to {MAX_DCA_ADDS}")
    if dca.spacing_perc is not None:
        if not dca.spacing_perc.is_finite() or dca.spacing_perc < 0:
            raise InvalidField("dca.spacing_perc", "must be 0 or more")
        if dca.spacing_perc >= MAX_DCA_PERC:
            raise InvalidField("dca.spacing_perc", f"must be below {MAX_DCA_PERC}")
    if dca.spacing_seconds is not None and dca.spacing_seconds < 0:
        raise InvalidField("dca.spacing_seconds", "must be 0 or more")
    if dca.enabled:
        for name in ("trigger_drawdown_perc", "size_multiplier", "max_adds"):
            if getattr(dca, name) is None:
                raise InvalidField(f"dca.{name}", "is required when DCA is enabled")


def protection_percentages(
    signal_tp: Decimal | None, signal_sl: Decimal | None, settings: ProtectionSettings
) -> tuple[Decimal | None, Decimal | None]:
    """(tp_perc, sl_perc): the signal's value, else the follower's default."""
    return (
        signal_tp if signal_tp is not None else settings.tp_perc,
        signal_sl if signal_sl is not None else settings.sl_perc,
    )


PROTECTION_FIELDS = frozenset(
    {
        "tp_perc",
        "sl_perc",
        *(f"trailing.{name}" for name in TrailingSettings.__dataclass_fields__),
        *(f"dca.{name}" for name in DcaSettings.__dataclass_fields__),
    }
)


def change_protection(
    current: ProtectionSettings, changes: dict[str, object]
) -> ProtectionSettings:
    """`current` with the fields named in `changes` (dotted: "trailing.callback_perc")
    replaced, validated as a whole: enabling trailing needs its parameters too."""
    unknown = sorted(set(changes) - PROTECTION_FIELDS)
    if unknown:
        raise InvalidField(unknown[0], "is not a protection setting")
    top = {k: v for k, v in changes.items() if "." not in k}
    trailing = {k.split(".", 1)[1]: v for k, v in changes.items() if k.startswith("trailing.")}
    dca = {k.split(".", 1)[1]: v for k, v in changes.items() if k.startswith("dca.")}
    updated = replace(
        current,
        **top,  # type: ignore[arg-type]
        trailing=replace(current.trailing, **trailing),  # type: ignore[arg-type]
        dca=replace(current.dca, **dca),  # type: ignore[arg-type]
    )
    validate_protection(updated)
    return updated
