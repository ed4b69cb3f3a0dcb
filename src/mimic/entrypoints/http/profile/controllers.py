"""The signed-in follower's profile and risk settings."""

from typing import Any

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, get, patch
from litestar.params import JSONBody

from mimic.application.follower_settings import (
    GUARDRAIL_FIELDS,
    LEADERBOARD_OPT_OUT,
    SettingsChange,
    UpdateFollowerSettings,
)
from mimic.application.platform_admin import ManagePlatformSettings
from mimic.domain.guardrails import GuardrailSettings
from mimic.domain.risk import FollowerRiskSettings
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.profile.schemas import ProfileOut, SettingsPatch
from mimic.entrypoints.http.profile.views import profile_out
from mimic.entrypoints.http.security import AuthRequest
from mimic.entrypoints.http.web_security import request_context


class MeController(Controller):
    path = "/api/me"

    @get("/", operation_id="me")
    async def me(
        self, request: AuthRequest, platform: FromDishka[ManagePlatformSettings]
    ) -> ProfileOut:
        return profile_out(request.user, await platform.get())

    @patch("/settings", operation_id="update_my_settings")
    async def update_settings(
        self,
        request: AuthRequest,
        data: JSONBody[SettingsPatch],
        update: FromDishka[UpdateFollowerSettings],
        platform: FromDishka[ManagePlatformSettings],
        settings: FromDishka[Settings],
    ) -> ProfileOut:
        given = frozenset(
            name
            for name in ("risk_perc", "leverage", "paused")
            if getattr(data, name) is not msgspec.UNSET
        )
        values = FollowerRiskSettings(
            risk_perc=_unset_to_none(data.risk_perc),
            leverage=_unset_to_none(data.leverage),
            paused=bool(_unset_to_none(data.paused)),
        )
        given |= frozenset(
            name
            for name in (*GUARDRAIL_FIELDS, LEADERBOARD_OPT_OUT)
            if getattr(data, name) is not msgspec.UNSET
        )
        guardrails = GuardrailSettings(
            drawdown_stop_perc=_unset_to_none(data.drawdown_stop_perc),
            close_all_on_drawdown=bool(_unset_to_none(data.close_all_on_drawdown)),
            profit_lock_perc=_unset_to_none(data.profit_lock_perc),
        )
        user = await update(
            SettingsChange(
                user_id=request.user.id,
                values=values,
                given=given,
                context=request_context(request, settings),
                protection=data.protection_changes(),
                guardrails=guardrails,
                leaderboard_opt_out=bool(_unset_to_none(data.leaderboard_opt_out)),
            )
        )
        return profile_out(user, await platform.get())


def _unset_to_none(value: Any) -> Any:
    return None if value is msgspec.UNSET else value
