"""What copy fidelity reads of a period's signals and their orders."""

from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from mimic.domain.fidelity import OutcomeCount, StatsByFollower


class FidelityReader(Protocol):
    async def copy_stats_since(self, since: datetime, *, source_id: str | None) -> StatsByFollower:
        """Latency and slippage (domain.fidelity's formulas and percentiles) of the filled
        orders of the signals received since `since` (of `source_id` only, when given):
        platform-wide and per follower."""
        ...

    async def misses_since(self, since: datetime, *, source_id: str | None) -> list[OutcomeCount]:
        """How many orders of those signals each follower had skipped or rejected, by reason."""
        ...

    async def usernames(self, user_ids: Collection[str]) -> dict[str, str]:
        """The username of each of `user_ids` that exists."""
        ...
