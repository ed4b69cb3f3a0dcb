"""A follower's choice of sources: which ones they copy, each with its own allocation."""

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get, put
from litestar.params import JSONBody

from mimic.application.source_follows import FollowSources
from mimic.domain.accounts import TradeDirection
from mimic.domain.follows import SourceFollow
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.follows.schemas import FollowableSourceOut, FollowIn, FollowOut
from mimic.entrypoints.http.security import AuthRequest
from mimic.entrypoints.http.web_security import request_context


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
