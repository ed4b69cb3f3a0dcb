from dataclasses import dataclass

from mimic.domain.accounts import User
from mimic.domain.errors import AuthenticationFailed
from mimic.ports.repositories import TransactionManager, UserRepository
from mimic.ports.services import PasswordHasher


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

    async def __call__(self, credentials: Credentials) -> User:
        user = await self._users.get_by_username(credentials.username)
        if user is None:
            # Hash anyway, so an unknown username costs the same time as a wrong password.
            await self._hasher.hash(credentials.password)
            raise AuthenticationFailed("wrong username or password")
        valid = await self._hasher.verify(user.password_hash, credentials.password)
        if not valid or not user.active:
            raise AuthenticationFailed("wrong username or password")
        if self._hasher.needs_rehash(user.password_hash):
            user.password_hash = await self._hasher.hash(credentials.password)
            await self._users.save(user)
            await self._tx.commit()
        return user
