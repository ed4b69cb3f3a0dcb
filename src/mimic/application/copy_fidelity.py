"""A period's copy fidelity: platform-wide, and per follower for whoever may see it."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from mimic.domain.accounts import User
from mimic.domain.errors import InvalidField
from mimic.domain.fidelity import (
    FidelityPeriod,
    FidelitySummary,
    OutcomeCount,
    StatsByFollower,
    summarize,
    summarize_by_follower,
)
from mimic.ports.fidelity import FidelityReader
from mimic.ports.repositories import SignalSourceRepository
from mimic.ports.services import Clock


@dataclass(frozen=True, slots=True)
class FollowerFidelity:
    user_id: str
    username: str | None  # None once the user is gone
    summary: FidelitySummary


@dataclass(frozen=True, slots=True)
class FidelityReport:
    period: FidelityPeriod
    since: datetime
    source_id: str | None
    platform: FidelitySummary
    followers: list[FollowerFidelity]


@dataclass(frozen=True, slots=True)
class _Figures:
    since: datetime
    stats: StatsByFollower
    misses: list[OutcomeCount]


class RecentFidelity:
    """A period's figures as computed in the last `keep_for`, per process: every follower's
    dashboard shows the platform's figures, which sum up a month of copies; computed once a
    minute, they cost the same however many pages open. A new copy shows within a minute."""

    def __init__(self, keep_for: timedelta = timedelta(minutes=1)) -> None:
        self._keep_for = keep_for
        self._kept: dict[tuple[FidelityPeriod, str | None], _Figures] = {}

    def get(self, period: FidelityPeriod, source_id: str | None, now: datetime) -> _Figures | None:
        kept = self._kept.get((period, source_id))
        if kept is None or now - (kept.since + period.length) >= self._keep_for:
            return None
        return kept

    def keep(self, period: FidelityPeriod, source_id: str | None, figures: _Figures) -> None:
        self._kept[(period, source_id)] = figures


class ViewCopyFidelity:
    """Admins see every follower's figures; a follower sees their own and the platform's."""

    def __init__(
        self,
        reader: FidelityReader,
        sources: SignalSourceRepository,
        clock: Clock,
        recent: RecentFidelity,
    ) -> None:
        self._reader = reader
        self._sources = sources
        self._clock = clock
        self._recent = recent

    async def __call__(
        self, viewer: User, period: str, source_id: str | None = None
    ) -> FidelityReport:
        chosen = FidelityPeriod.parse(period)
        if source_id is not None and await self._sources.get(source_id) is None:
            raise InvalidField("source", f"no signal source {source_id!r}")
        figures = await self._figures(chosen, source_id)
        by_follower = summarize_by_follower(figures.stats, figures.misses)
        if not viewer.is_admin:
            by_follower = {u: s for u, s in by_follower.items() if u == viewer.id}
        names = await self._reader.usernames(by_follower)
        return FidelityReport(
            period=chosen,
            since=figures.since,
            source_id=source_id,
            platform=summarize(figures.stats.platform, figures.misses),
            followers=[FollowerFidelity(u, names.get(u), s) for u, s in by_follower.items()],
        )

    async def _figures(self, period: FidelityPeriod, source_id: str | None) -> _Figures:
        now = self._clock.now()
        figures = self._recent.get(period, source_id, now)
        if figures is None:
            since = now - period.length
            figures = _Figures(
                since,
                await self._reader.copy_stats_since(since, source_id=source_id),
                await self._reader.misses_since(since, source_id=source_id),
            )
            self._recent.keep(period, source_id, figures)
        return figures
