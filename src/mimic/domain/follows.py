"""Which sources a follower copies, each with its own allocation over their defaults.

A follower who chose no source follows every active one with their own settings: users
who never chose keep copying as before. One who chose follows only those chosen.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from mimic.domain.accounts import TradeDirection
from mimic.domain.alerts import restrict_action
from mimic.domain.errors import InvalidField
from mimic.domain.risk import (
    FollowerRiskSettings,
    PlatformRiskSettings,
    UserCaps,
    validate_follower_settings,
)
from mimic.domain.signal import SignalAction

# Beyond this a follower would be copying with more than ten times the master's exposure;
# the admin's risk cap limits each entry's margin anyway.
MAX_MULTIPLIER = Decimal(10)


@dataclass(frozen=True, slots=True)
class SourceFollow:
    """One source a follower copies; None for risk/leverage = the follower's own setting.

    `multiplier` scales the entries copied from a master's exchange account (proportional
    sizing, domain.planning); None = 1. Webhook signals are sized by risk and leverage.
    """

    source_id: str
    risk_perc: Decimal | None = None
    leverage: int | None = None
    direction: TradeDirection = TradeDirection.BOTH
    multiplier: Decimal | None = None

    @property
    def entry_multiplier(self) -> Decimal:
        return Decimal(1) if self.multiplier is None else self.multiplier

    def settings_over(self, own: FollowerRiskSettings) -> FollowerRiskSettings:
        """The follower's settings for this source's signals (caps apply later, as ever)."""
        if self.risk_perc is None and self.leverage is None:
            return own  # no copy per follower of a fan-out when nothing is overridden
        return replace(
            own,
            risk_perc=self.risk_perc if self.risk_perc is not None else own.risk_perc,
            leverage=self.leverage if self.leverage is not None else own.leverage,
        )

    def action_for(self, action: SignalAction) -> SignalAction:
        """The other side of a one-sided follow closes what is open, as for a source."""
        return restrict_action(action, self.direction)


@dataclass(frozen=True, slots=True)
class FollowChoices:
    """For one source: the users who chose sources, and the follow of those who chose it."""

    source_id: str
    choosers: frozenset[str]
    follows: Mapping[str, SourceFollow]

    def allocation(self, user_id: str) -> SourceFollow | None:
        """How `user_id` copies the source's signals; None if they do not follow it."""
        follow = self.follows.get(user_id)
        if follow is not None:
            return follow
        return None if user_id in self.choosers else SourceFollow(self.source_id)


def validate_follows(
    follows: Collection[SourceFollow],
    known_sources: Collection[str],
    platform: PlatformRiskSettings,
    caps: UserCaps,
) -> None:
    """Every source exists, at most once, and each allocation is within the caps (422)."""
    seen: set[str] = set()
    for follow in follows:
        if follow.source_id not in known_sources:
            raise InvalidField("source_id", f"{follow.source_id!r} is not a signal source")
        if follow.source_id in seen:
            raise InvalidField("source_id", f"{follow.source_id!r} is listed twice")
        seen.add(follow.source_id)
        multiplier = follow.multiplier
        if multiplier is not None and not (
            multiplier.is_finite() and 0 < multiplier <= MAX_MULTIPLIER
        ):
            raise InvalidField("multiplier", f"must be greater than 0 and at most {MAX_MULTIPLIER}")
        validate_follower_settings(
            FollowerRiskSettings(risk_perc=follow.risk_perc, leverage=follow.leverage),
            platform,
            caps,
        )
