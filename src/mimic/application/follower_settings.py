from dataclasses import dataclass, field, replace
from typing import Any

from mimic.application.audit_trail import SYSTEM, RequestContext, audit_event
from mimic.domain.accounts import User
from mimic.domain.errors import NotFound
from mimic.domain.guardrails import GuardrailSettings
from mimic.domain.protection import change_protection
from mimic.domain.risk import FollowerRiskSettings, validate_follower_settings
from mimic.ports.repositories import (
    AuditLog,
    SettingsRepository,
    TransactionManager,
    UserRepository,
)
from mimic.ports.services import Clock

SETTINGS_FIELDS = frozenset({"risk_perc", "leverage", "paused"})
GUARDRAIL_FIELDS = frozenset({"drawdown_stop_perc", "close_all_on_drawdown", "profit_lock_perc"})
LEADERBOARD_OPT_OUT = "leaderboard_opt_out"


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """Only the fields named in `given` change; None for risk_perc/leverage = "default"."""

    user_id: str
    values: FollowerRiskSettings
    given: frozenset[str]
    context: RequestContext = SYSTEM
    # Protection fields given, by dotted name ("trailing.callback_perc"); None = unset.
    protection: dict[str, object] = field(default_factory=dict)
    guardrails: GuardrailSettings = field(default_factory=GuardrailSettings)
    leaderboard_opt_out: bool = False


class UpdateFollowerSettings:
    def __init__(
        self,
        users: UserRepository,
        settings: SettingsRepository,
        tx: TransactionManager,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self._users = users
        self._settings = settings
        self._tx = tx
        self._audit = audit
        self._clock = clock

    async def __call__(self, change: SettingsChange) -> User:
        user = await self._users.get(change.user_id)
        if user is None:
            raise NotFound("user not found")
        updates: dict[str, Any] = {
            name: getattr(change.values, name) for name in change.given & SETTINGS_FIELDS
        }
        # Only what the follower sends now is checked against the caps: values stored before
        # the admin lowered a cap are capped at execution, and must not block a pause.
        validate_follower_settings(
            replace(FollowerRiskSettings(), **updates),
            await self._settings.get_platform_risk(),
            user.caps,
        )
        protection = change_protection(user.protection, change.protection)
        guardrail_updates: dict[str, Any] = {
            name: getattr(change.guardrails, name) for name in change.given & GUARDRAIL_FIELDS
        }
        replace(GuardrailSettings(), **guardrail_updates).validate()
        user.settings = replace(user.settings, **updates)
        user.protection = protection
        user.guardrails = replace(user.guardrails, **guardrail_updates)
        if LEADERBOARD_OPT_OUT in change.given:
            user.leaderboard_opt_out = change.leaderboard_opt_out
        await self._users.save(user)
        await self._audit.record(
            audit_event(
                change.context,
                self._clock.now(),
                "settings.follower_changed",
                target=f"user:{user.id}",
                **{name: str(value) for name, value in updates.items()},
                **{name: str(value) for name, value in change.protection.items()},
                **{name: str(value) for name, value in guardrail_updates.items()},
            )
        )
        await self._tx.commit()
        return user
