"""Risk settings at three levels (admin defaults, signal, follower) and the admin caps."""

from dataclasses import dataclass
from decimal import Decimal

from mimic.domain.errors import InvalidField
from mimic.domain.signal import MAX_LEVERAGE, MAX_RISK_PERC


@dataclass(frozen=True, slots=True)
class PlatformRiskSettings:
    """Global defaults and caps, set by the admin."""

    default_risk_perc: Decimal = Decimal(1)
    default_leverage: int = 5
    max_risk_perc: Decimal = Decimal(10)
    max_leverage: int = 20

    def __post_init__(self) -> None:
        _check_risk("max_risk_perc", self.max_risk_perc)
        _check_leverage("max_leverage", self.max_leverage)
        _check_risk("default_risk_perc", self.default_risk_perc)
        _check_leverage("default_leverage", self.default_leverage)
        if self.default_risk_perc > self.max_risk_perc:
            raise InvalidField("default_risk_perc", "must not exceed max_risk_perc")
        if self.default_leverage > self.max_leverage:
            raise InvalidField("default_leverage", "must not exceed max_leverage")


@dataclass(frozen=True, slots=True)
class FollowerRiskSettings:
    """A follower's own choices; None means "use the signal's or the default"."""

    risk_perc: Decimal | None = None
    leverage: int | None = None
    paused: bool = False


@dataclass(frozen=True, slots=True)
class UserCaps:
    """Per-user caps the admin may set below the global ones."""

    max_risk_perc: Decimal | None = None
    max_leverage: int | None = None


@dataclass(frozen=True, slots=True)
class EffectiveRisk:
    risk_perc: Decimal
    leverage: int


def _check_risk(field: str, value: Decimal) -> None:
    if not value.is_finite() or value <= 0 or value > MAX_RISK_PERC:
        raise InvalidField(field, f"must be greater than 0 and at most {MAX_RISK_PERC}")


def _check_leverage(field: str, value: int) -> None:
    if value < 1 or value > MAX_LEVERAGE:
        raise InvalidField(field, f"must be a whole number from 1 to {MAX_LEVERAGE}")


def risk_cap(platform: PlatformRiskSettings, caps: UserCaps) -> Decimal:
    if caps.max_risk_perc is None:
        return platform.max_risk_perc
    return min(platform.max_risk_perc, caps.max_risk_perc)


def leverage_cap(platform: PlatformRiskSettings, caps: UserCaps) -> int:
    if caps.max_leverage is None:
        return platform.max_leverage
    return min(platform.max_leverage, caps.max_leverage)


def validate_follower_settings(
    settings: FollowerRiskSettings, platform: PlatformRiskSettings, caps: UserCaps
) -> None:
    """A follower may not choose values beyond the caps (422 at the edge)."""
    if settings.risk_perc is not None:
        _check_risk("risk_perc", settings.risk_perc)
        cap = risk_cap(platform, caps)
        if settings.risk_perc > cap:
            raise InvalidField("risk_perc", f"must be at most {cap} (the admin's cap)")
    if settings.leverage is not None:
        _check_leverage("leverage", settings.leverage)
        lev_cap = leverage_cap(platform, caps)
        if settings.leverage > lev_cap:
            raise InvalidField("leverage", f"must be at most {lev_cap} (the admin's cap)")


def resolve_risk(
    *,
    platform: PlatformRiskSettings,
    caps: UserCaps,
    follower: FollowerRiskSettings,
    signal_risk_perc: Decimal | None,
    signal_leverage: int | None,
    market_max_leverage: int,
) -> EffectiveRisk:
    """Follower's value, else the signal's, else the default; then every cap applies."""
    risk = follower.risk_perc or signal_risk_perc or platform.default_risk_perc
    leverage = follower.leverage or signal_leverage or platform.default_leverage
    return EffectiveRisk(
        risk_perc=min(risk, risk_cap(platform, caps)),
        leverage=max(1, min(leverage, leverage_cap(platform, caps), market_max_leverage)),
    )


def validate_user_caps(caps: UserCaps) -> None:
    """Per-user caps the admin sets live in the same ranges as the global ones."""
    if caps.max_risk_perc is not None:
        _check_risk("max_risk_perc", caps.max_risk_perc)
    if caps.max_leverage is not None:
        _check_leverage("max_leverage", caps.max_leverage)
