"""The lab's accounts, market and results: what a replay takes and gives back."""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from mimic.domain.errors import InvalidField
from mimic.domain.guardrails import GuardrailSettings
from mimic.domain.lab.book import LabBook
from mimic.domain.lab.candles import CandleSeries
from mimic.domain.lab.timeline import Alert
from mimic.domain.market import MarketRules
from mimic.domain.protection import ProtectionSettings
from mimic.domain.risk import FollowerRiskSettings, PlatformRiskSettings, UserCaps


@dataclass(frozen=True, slots=True)
class LabFollower:
    name: str
    equity: Decimal
    settings: FollowerRiskSettings = field(default_factory=FollowerRiskSettings)
    protection: ProtectionSettings = field(default_factory=ProtectionSettings)
    guardrails: GuardrailSettings = field(default_factory=GuardrailSettings)
    caps: UserCaps = field(default_factory=UserCaps)


@dataclass(frozen=True, slots=True)
class LabMarket:
    series: Mapping[str, CandleSeries]
    rules: Mapping[str, MarketRules]


@dataclass(slots=True)
class AccountResult:
    name: str
    start_equity: Decimal
    book: LabBook
    skipped: Counter[str]
    equity: list[Decimal]  # at each sample time of the replay
    final_equity: Decimal = Decimal(0)


@dataclass(slots=True)
class ReplayResult:
    master: AccountResult
    followers: list[AccountResult]
    sample_times: list[int]  # epoch ms


def master_at_face_value(equity: Decimal) -> tuple[LabFollower, PlatformRiskSettings]:
    """The master takes every alert as written: its risk and leverage (the platform's
    defaults where it gives none), its TP/SL, no follower setting, no cap below the
    signal's own limits."""
    return LabFollower(name="master", equity=equity), PlatformRiskSettings(
        max_risk_perc=Decimal(100), max_leverage=125
    )


def check_alerts(market: LabMarket, alerts: Sequence[Alert]) -> None:
    """Every alert's symbol needs candles and exchange rules."""
    for alert in alerts:
        symbol = alert.params.symbol
        if symbol not in market.series:
            raise InvalidField("alerts", f"an alert trades {symbol}, which has no candles")
        if symbol not in market.rules:
            raise InvalidField("alerts", f"no exchange rules for {symbol}")


def reason_kind(reason: str) -> str:
    """A skip reason without its numbers, so that the report counts alike reasons together."""
    head = reason.split(":", 1)[0]
    words = [w for w in head.split() if not any(ch.isdigit() for ch in w)]
    return " ".join(words)
