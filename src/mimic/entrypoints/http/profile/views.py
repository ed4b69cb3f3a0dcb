"""A follower's profile and settings as the routes show them."""

from mimic.domain.accounts import User
from mimic.domain.risk import PlatformRiskSettings, leverage_cap, risk_cap
from mimic.entrypoints.http.profile.schemas import (
    CapsOut,
    DcaSettingsOut,
    FollowerSettingsOut,
    ProfileOut,
    TrailingSettingsOut,
)


def follower_settings_out(user: User) -> FollowerSettingsOut:
    protection = user.protection
    return FollowerSettingsOut(
        risk_perc=user.settings.risk_perc,
        leverage=user.settings.leverage,
        paused=user.settings.paused,
        tp_perc=protection.tp_perc,
        sl_perc=protection.sl_perc,
        trailing=TrailingSettingsOut(
            enabled=protection.trailing.enabled,
            activation_perc=protection.trailing.activation_perc,
            callback_perc=protection.trailing.callback_perc,
        ),
        dca=DcaSettingsOut(
            enabled=protection.dca.enabled,
            trigger_drawdown_perc=protection.dca.trigger_drawdown_perc,
            size_multiplier=protection.dca.size_multiplier,
            max_adds=protection.dca.max_adds,
            spacing_perc=protection.dca.spacing_perc,
            spacing_seconds=protection.dca.spacing_seconds,
        ),
        drawdown_stop_perc=user.guardrails.drawdown_stop_perc,
        close_all_on_drawdown=user.guardrails.close_all_on_drawdown,
        profit_lock_perc=user.guardrails.profit_lock_perc,
        leaderboard_opt_out=user.leaderboard_opt_out,
    )


def profile_out(user: User, platform: PlatformRiskSettings) -> ProfileOut:
    return ProfileOut(
        id=user.id,
        username=user.username,
        email=user.email,
        role=user.role.value,
        active=user.active,
        settings=follower_settings_out(user),
        caps=CapsOut(
            max_risk_perc=risk_cap(platform, user.caps),
            max_leverage=leverage_cap(platform, user.caps),
        ),
        referral_code=user.referral_code,
    )
