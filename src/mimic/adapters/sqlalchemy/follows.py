"""The sources followers chose, read by the fan-out once per signal."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.tables import source_follows
from mimic.domain.accounts import TradeDirection
from mimic.domain.follows import FollowChoices, SourceFollow
from mimic.ports.repositories import SourceFollowRepository


class SqlSourceFollowRepository(SourceFollowRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def list_for_user(self, user_id: str) -> list[SourceFollow]:
        statement = (
            select(source_follows)
            .where(source_follows.c.user_id == user_id)
            .order_by(source_follows.c.source_id)
        )
        return [_follow(row) for row in (await self._session.execute(statement)).mappings()]

    async def replace_for_user(self, user_id: str, follows: Sequence[SourceFollow]) -> None:
        await self._session.execute(
            source_follows.delete().where(source_follows.c.user_id == user_id)
        )
        if follows:
            await self._session.execute(
                source_follows.insert(),
                [
                    {
                        "user_id": user_id,
                        "source_id": f.source_id,
                        "risk_perc": f.risk_perc,
                        "leverage": f.leverage,
                        "direction": f.direction.value,
                        "multiplier": f.multiplier,
                    }
                    for f in follows
                ],
            )

    async def choices_for(self, source_id: str) -> FollowChoices:
        choosers = select(source_follows.c.user_id).distinct()
        chosen = select(source_follows).where(source_follows.c.source_id == source_id)
        return FollowChoices(
            source_id=source_id,
            choosers=frozenset((await self._session.execute(choosers)).scalars()),
            follows={
                row["user_id"]: _follow(row)
                for row in (await self._session.execute(chosen)).mappings()
            },
        )


def _follow(row: Any) -> SourceFollow:
    return SourceFollow(
        source_id=row["source_id"],
        risk_perc=row["risk_perc"],
        leverage=row["leverage"],
        direction=TradeDirection(row["direction"]),
        multiplier=row["multiplier"],
    )
