"""A follower chooses which sources to copy, each with its own allocation."""

from collections.abc import Sequence

from mimic.application.audit_trail import SYSTEM, RequestContext, audit_event
from mimic.domain.accounts import SignalSource
from mimic.domain.errors import NotFound
from mimic.domain.follows import SourceFollow, validate_follows
from mimic.ports.repositories import (
    AuditLog,
    SettingsRepository,
    SignalSourceRepository,
    SourceFollowRepository,
    TransactionManager,
    UserRepository,
)
from mimic.ports.services import Clock


class FollowSources:
    def __init__(
        self,
        follows: SourceFollowRepository,
        sources: SignalSourceRepository,
        users: UserRepository,
        settings: SettingsRepository,
        audit: AuditLog,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._follows = follows
        self._sources = sources
        self._users = users
        self._settings = settings
        self._audit = audit
        self._tx = tx
        self._clock = clock

    async def followable(self) -> list[SignalSource]:
        """The active sources, by name: those a follower can choose."""
        return [s for s in await self._sources.list_all() if s.active]

    async def chosen(self, user_id: str) -> list[SourceFollow]:
        return await self._follows.list_for_user(user_id)

    async def __call__(
        self, user_id: str, follows: Sequence[SourceFollow], context: RequestContext = SYSTEM
    ) -> list[SourceFollow]:
        """Replaces the follower's whole list; an empty one follows every source again."""
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user not found")
        # A paused source may be chosen too: its signals are copied once it is resumed.
        known = {s.id for s in await self._sources.list_all()}
        validate_follows(follows, known, await self._settings.get_platform_risk(), user.caps)
        await self._follows.replace_for_user(user_id, follows)
        await self._audit.record(
            audit_event(
                context,
                self._clock.now(),
                "follows.changed",
                target=f"user:{user_id}",
                sources=",".join(f.source_id for f in follows) or "every source",
            )
        )
        await self._tx.commit()
        return await self._follows.list_for_user(user_id)
