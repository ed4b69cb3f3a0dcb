import re
import secrets
import uuid
from dataclasses import dataclass

from mimic.application.password_policy import check_password_policy
from mimic.domain.accounts import Role, User
from mimic.domain.errors import InvalidField
from mimic.ports.repositories import TransactionManager, UserRepository
from mimic.ports.services import Clock, PasswordHasher

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# No 0/O or 1/I/L: codes are read aloud and typed from screenshots.
_REFERRAL_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERRAL_CODE_LENGTH = 10


@dataclass(frozen=True, slots=True)
class RegisterUserCommand:
    username: str
    email: str
    password: str
    role: Role = Role.USER
    referral_code: str | None = None


class RegisterUser:
    def __init__(
        self, users: UserRepository, hasher: PasswordHasher, tx: TransactionManager, clock: Clock
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._tx = tx
        self._clock = clock

    async def __call__(self, command: RegisterUserCommand) -> User:
        if not _USERNAME.fullmatch(command.username):
            raise InvalidField(
                "username", "must be 3-32 characters: letters, digits, '_', '.', '-'"
            )
        email = command.email.strip().lower()
        if len(email) > 254 or not _EMAIL.fullmatch(email):
            raise InvalidField("email", "is not a valid email address")
        check_password_policy(command.password)
        referrer = await self._referrer(command.referral_code)
        user = User(
            id=uuid.uuid4().hex,
            username=command.username,
            email=email,
            password_hash=await self._hasher.hash(command.password),
            role=command.role,
            created_at=self._clock.now(),
            referral_code=new_referral_code(),
            referred_by=None if referrer is None else referrer.id,
        )
        await self._users.add(user)
        await self._tx.commit()
        return user

    async def _referrer(self, code: str | None) -> User | None:
        if code is None or not code.strip():
            return None
        referrer = await self._users.get_by_referral_code(code.strip().upper())
        if referrer is None or not referrer.active:
            raise InvalidField("referral_code", "is not a known referral code")
        return referrer


def new_referral_code() -> str:
    """31^10 (about 8e14) codes: guessing a valid one is hopeless at any request rate."""
    return "".join(secrets.choice(_REFERRAL_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))
