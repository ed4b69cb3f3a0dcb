"""A follower's choice of sources: which ones they copy, each with its own allocation."""

from decimal import Decimal

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, get, put
from litestar.params import JSONBody

from mimic.application.source_follows import FollowSources
from mimic.domain.accounts import TradeDirection
from mimic.domain.follows import SourceFollow
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.profile.schemas import Leverage
from mimic.entrypoints.http.security import AuthRequest
from mimic.entrypoints.http.sources.controllers import Direction
from mimic.entrypoints.http.web_security import request_context


class FollowableSourceOut(msgspec.Struct):
    id: str
    name: str
    direction: Direction


class FollowIn(msgspec.Struct, forbid_unknown_fields=True):
    """Absent or null risk_perc/leverage: the follower's own settings apply; absent or
    null multiplier: 1 (it scales entries copied from a master's exchange account)."""

    source_id: str
    risk_perc: Decimal | None = None
    leverage: Leverage | None = None
    direction: Direction = "both"
    multiplier: Decimal | None = None


class FollowOut(msgspec.Struct):
    source_id: str
    risk_perc: Decimal | None
    leverage: int | None
    direction: Direction
    multiplier: Decimal | None


def _out(follow: SourceFollow) -> FollowOut:
    return FollowOut(
        follow.source_id,
        follow.risk_perc,
        follow.leverage,
        follow.direction.value,
        follow.multiplier,
    )


class FollowController(Controller):
    path = "/api"

    @get("/sources", operation_id="list_followable_sources")
    async def followable(
        self, follow_sources: FromDishka[FollowSources]
    ) -> list[FollowableSourceOut]:
        return [
            FollowableSourceOut(s.id, s.name, s.direction.value)
            for s in await follow_sources.followable()
        ]

    @get("/me/sources", operation_id="list_my_sources")
    async def chosen(
        self, request: AuthRequest, follow_sources: FromDishka[FollowSources]
    ) -> list[FollowOut]:
        return [_out(f) for f in await follow_sources.chosen(request.user.id)]

    @put("/me/sources", operation_id="put_my_sources")
    async def choose(
        self,
        request: AuthRequest,
        data: JSONBody[list[FollowIn]],
        follow_sources: FromDishka[FollowSources],
        settings: FromDishka[Settings],
    ) -> list[FollowOut]:
        """The whole list: an empty one follows every active source with the defaults."""
        follows = [
            SourceFollow(
                f.source_id, f.risk_perc, f.leverage, TradeDirection(f.direction), f.multiplier
            )
            for f in data
        ]
        chosen = await follow_sources(request.user.id, follows, request_context(request, settings))
        return [_out(f) for f in chosen]
