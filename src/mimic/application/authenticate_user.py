from dataclasses import dataclass

from mimic.domain.accounts import User
from mimic.domain.errors import AuthenticationFailed
from mimic.ports.repositories import TransactionManager, UserRepository
from mimic.ports.services import PasswordHasher

# Verified when the username is unknown, so both failures cost the same time.
_DUMMY_PASSWORD = "not-a-real-password"  # noqa: S105


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str


class AuthenticateUser:
    def __init__(
        self, users: UserRepository, hasher: PasswordHasher, tx: TransactionManager
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._tx = tx
        self._dummy_hash = hasher.hash(_DUMMY_PASSWORD)

    async def __call__(self, credentials: Credentials) -> User:
        user = await self._users.get_by_username(credentials.username)
        if user is None:
            self._hasher.verify(self._dummy_hash, credentials.password)
            raise AuthenticationFailed("wrong username or password")
        if not self._hasher.verify(user.password_hash, credentials.password) or not user.active:
            raise AuthenticationFailed("wrong username or password")
        if self._hasher.needs_rehash(user.password_hash):
            user.password_hash = self._hasher.hash(credentials.password)
            await self._users.save(user)
            await self._tx.commit()
        return user
