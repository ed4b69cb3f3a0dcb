from dataclasses import dataclass, field, replace
from typing import Any

from mimic.application.audit_trail import SYSTEM, RequestContext, audit_event
from mimic.domain.accounts import User
from mimic.domain.errors import NotFound
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


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """Only the fields named in `given` change; None for risk_perc/leverage = "default"."""

    user_id: str
    values: FollowerRiskSettings
    given: frozenset[str]
    context: RequestContext = SYSTEM
    # Protection fields given, by dotted name ("trailing.callback_perc"); None = unset.
    protection: dict[str, object] = field(default_factory=dict)


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
        user.settings = replace(user.settings, **updates)
        user.protection = protection
        await self._users.save(user)
        await self._audit.record(
            audit_event(
                change.context,
                self._clock.now(),
                "settings.follower_changed",
                target=f"user:{user.id}",
                **{name: str(value) for name, value in updates.items()},
                **{name: str(value) for name, value in change.protection.items()},
            )
        )
        await self._tx.commit()
        return user
