"""In-memory UserRepository."""

import builtins
import copy
from collections.abc import Collection
from datetime import datetime

from mimic.domain.accounts import (
    User,
)
from mimic.domain.errors import (
    Conflict,
)
from mimic.ports.repositories import (
    UserRepository,
)
from tests.fakes.repositories.rows import as_stored


class InMemoryUserRepository(UserRepository):
    def __init__(self) -> None:
        self._rows: dict[str, User] = {}

    def _check_unique(self, user: User) -> None:
        for other in self._rows.values():
            if other.id == user.id:
                continue
            if other.username.lower() == user.username.lower():
                raise Conflict("username is taken")
            if other.email.lower() == user.email.lower():
                raise Conflict("email is already registered")

    async def add(self, user: User) -> None:
        if user.id in self._rows:
            raise Conflict(f"user {user.id} exists")
        self._check_unique(user)
        self._rows[user.id] = as_stored(user)

    async def get(self, user_id: str) -> User | None:
        return copy.deepcopy(self._rows.get(user_id))

    async def get_by_username(self, username: str) -> User | None:
        found = next((u for u in self._rows.values() if u.username == username), None)
        return copy.deepcopy(found)

    async def get_by_referral_code(self, code: str) -> User | None:
        found = next((u for u in self._rows.values() if u.referral_code == code), None)
        return copy.deepcopy(found)

    async def usernames(self, user_ids: Collection[str]) -> dict[str, str]:
        return {i: self._rows[i].username for i in user_ids if i in self._rows}

    async def list(self, *, offset: int = 0, limit: int = 100) -> list[User]:
        ordered = sorted(self._rows.values(), key=lambda u: (u.created_at, u.id))
        return copy.deepcopy(ordered[offset : offset + limit])

    async def save(self, user: User) -> None:
        if user.id not in self._rows:
            return  # an UPDATE of a missing row changes nothing
        self._check_unique(user)
        stored = as_stored(user)
        stored.created_at = self._rows[user.id].created_at
        self._rows[user.id] = stored

    def all(self) -> builtins.list[User]:
        return copy.deepcopy(builtins.list(self._rows.values()))

    async def get_by_email(self, email: str) -> User | None:
        found = next((u for u in self._rows.values() if u.email.lower() == email.lower()), None)
        return copy.deepcopy(found)

    async def count_failed_login(self, user_id: str) -> int:
        user = self._rows[user_id]
        user.failed_logins += 1
        return user.failed_logins

    async def set_sign_in_state(
        self,
        user_id: str,
        *,
        failed_logins: int,
        locked_until: datetime | None,
        password_hash: str | None = None,
    ) -> None:
        user = self._rows[user_id]
        user.failed_logins = failed_logins
        user.locked_until = locked_until
        if password_hash is not None:
            user.password_hash = password_hash

    async def search(
        self, *, query: str | None, offset: int, limit: int, include_deleted: bool = False
    ) -> tuple[builtins.list[User], int]:
        wanted = (query or "").lower()
        found = [
            u
            for u in sorted(self._rows.values(), key=lambda u: (u.created_at, u.id))
            if (wanted in u.username.lower() or wanted in u.email)
            and (include_deleted or u.deleted_at is None)
        ]
        return copy.deepcopy(found[offset : offset + limit]), len(found)
