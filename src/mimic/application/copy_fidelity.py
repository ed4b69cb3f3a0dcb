"""A period's copy fidelity: platform-wide, and per follower for whoever may see it."""

from dataclasses import dataclass
from datetime import datetime

from mimic.domain.accounts import User
from mimic.domain.errors import InvalidField
from mimic.domain.fidelity import (
    FidelityPeriod,
    FidelitySummary,
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


class ViewCopyFidelity:
    """Admins see every follower's figures; a follower sees their own and the platform's."""

    def __init__(
        self, reader: FidelityReader, sources: SignalSourceRepository, clock: Clock
    ) -> None:
        self._reader = reader
        self._sources = sources
        self._clock = clock

    async def __call__(
        self, viewer: User, period: str, source_id: str | None = None
    ) -> FidelityReport:
        chosen = FidelityPeriod.parse(period)
        if source_id is not None and await self._sources.get(source_id) is None:
            raise InvalidField("source", f"no signal source {source_id!r}")
        since = self._clock.now() - chosen.length
        copies = await self._reader.copies_since(since, source_id=source_id)
        misses = await self._reader.misses_since(since, source_id=source_id)
        by_follower = summarize_by_follower(copies, misses)
        if not viewer.is_admin:
            by_follower = {u: s for u, s in by_follower.items() if u == viewer.id}
        names = await self._reader.usernames(by_follower)
        return FidelityReport(
            period=chosen,
            since=since,
            source_id=source_id,
            platform=summarize(copies, misses),
            followers=[FollowerFidelity(u, names.get(u), s) for u, s in by_follower.items()],
        )
