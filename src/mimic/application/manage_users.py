"""The admin's user management: search, edit (role, active, paused, caps), soft delete."""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from mimic.application.audit_trail import SYSTEM, RequestContext, audit_event
from mimic.domain.accounts import Role, User
from mimic.domain.errors import Conflict, InvalidField, NotFound
from mimic.domain.risk import validate_user_caps
from mimic.ports.repositories import AuditLog, TransactionManager, UserRepository
from mimic.ports.services import Clock

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class UserPage:
    users: list[User]
    total: int


@dataclass(frozen=True, slots=True)
class UserEdit:
    """Only the fields named in `given` change; a None cap removes the per-user cap."""

    user_id: str
    given: frozenset[str]
    role: Role | None = None
    active: bool | None = None
    paused: bool | None = None
    max_risk_perc: Decimal | None = None
    max_leverage: int | None = None
    context: RequestContext = SYSTEM


class ManageUsers:
    def __init__(
        self, users: UserRepository, audit: AuditLog, tx: TransactionManager, clock: Clock
    ) -> None:
        self._users = users
        self._audit = audit
        self._tx = tx
        self._clock = clock

    async def search(
        self, query: str | None, offset: int, limit: int, include_deleted: bool = False
    ) -> UserPage:
        if offset < 0:
            raise InvalidField("offset", "must not be negative")
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidField("limit", f"must be from 1 to {MAX_PAGE}")
        found, total = await self._users.search(
            query=(query or "").strip() or None,
            offset=offset,
            limit=limit,
            include_deleted=include_deleted,
        )
        return UserPage(found, total)

    async def usernames(self, user_ids: Iterable[str]) -> dict[str, str]:
        """user id -> username: to show people by name where a record keeps their id."""
        return await self._users.usernames(set(user_ids))

    async def id_of(self, username_or_id: str) -> str:
        """The id of the user with this username; anything else is taken as an id."""
        user = await self._users.get_by_username(username_or_id)
        return username_or_id if user is None else user.id

    async def get(self, user_id: str) -> User:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user not found")
        return user

    async def edit(self, edit: UserEdit) -> User:
        user = await self.get(edit.user_id)
        if user.deleted_at is not None:
            raise Conflict("the user is deleted")
        own = edit.context.actor_id == user.id
        changes: dict[str, str] = {}
        if "role" in edit.given and edit.role is not None and edit.role is not user.role:
            if own:
                raise Conflict("you cannot change your own role")
            changes["role"] = f"{user.role} -> {edit.role}"
            user.role = edit.role
            user.revoke_tokens()
        if "active" in edit.given and edit.active is not None and edit.active != user.active:
            if own:
                raise Conflict("you cannot deactivate yourself")
            changes["active"] = f"{user.active} -> {edit.active}"
            user.active = edit.active
            if not edit.active:
                user.revoke_tokens()
        if "paused" in edit.given and edit.paused is not None:
            changes["paused"] = str(edit.paused)
            user.settings = replace(user.settings, paused=edit.paused)
        caps = user.caps
        if "max_risk_perc" in edit.given:
            caps = replace(caps, max_risk_perc=edit.max_risk_perc)
            changes["max_risk_perc"] = str(edit.max_risk_perc)
        if "max_leverage" in edit.given:
            caps = replace(caps, max_leverage=edit.max_leverage)
            changes["max_leverage"] = str(edit.max_leverage)
        validate_user_caps(caps)
        user.caps = caps
        await self._users.save(user)
        now = self._clock.now()
        target = f"user:{user.id}"
        if "role" in changes:
            await self._audit.record(
                audit_event(
                    edit.context, now, "user.role_changed", target=target, role=changes["role"]
                )
            )
        if changes:
            await self._audit.record(
                audit_event(edit.context, now, "user.updated", target=target, **changes)
            )
        await self._tx.commit()
        return user

    async def delete(self, user_id: str, context: RequestContext = SYSTEM) -> None:
        """Soft: the person cannot sign in any more, their trades and orders stay."""
        user = await self.get(user_id)
        if context.actor_id == user.id:
            raise Conflict("you cannot delete yourself")
        if user.deleted_at is not None:
            return
        user.deleted_at = self._clock.now()
        user.active = False
        user.settings = replace(user.settings, paused=True)
        user.revoke_tokens()
        await self._users.save(user)
        await self._audit.record(
            audit_event(context, user.deleted_at, "user.deleted", target=f"user:{user.id}")
        )
        await self._tx.commit()
