from dataclasses import dataclass

from mimic.application.audit_trail import SYSTEM, RequestContext, audit_event
from mimic.application.sign_in_failures import SignInFailures
from mimic.domain.accounts import User
from mimic.domain.errors import AuthenticationFailed
from mimic.domain.lockout import LockoutPolicy
from mimic.ports.repositories import AuditLog, TransactionManager, UserRepository
from mimic.ports.services import Clock, PasswordHasher

WRONG_CREDENTIALS = "wrong username or password"


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str
    context: RequestContext = SYSTEM


class AuthenticateUser:
    """Checks a password; repeated failures lock the account for longer and longer."""

    def __init__(
        self,
        users: UserRepository,
        hasher: PasswordHasher,
        tx: TransactionManager,
        audit: AuditLog,
        clock: Clock,
        lockout: LockoutPolicy,
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._tx = tx
        self._audit = audit
        self._clock = clock
        self._failures = SignInFailures(users, audit, tx, clock, lockout)

    async def __call__(self, credentials: Credentials) -> User:
        now = self._clock.now()
        context = credentials.context
        user = await self._users.get_by_username(credentials.username)
        if user is None:
            # Hash anyway, so an unknown username costs the same time as a wrong password.
            await self._hasher.hash(credentials.password)
            await self._audit.record(
                audit_event(context, now, "auth.login_failed", username=credentials.username[:64])
            )
            await self._tx.commit()
            raise AuthenticationFailed(WRONG_CREDENTIALS)
        await self._failures.refuse_if_locked(user, context)
        valid = await self._hasher.verify(user.password_hash, credentials.password)
        if not valid or not user.active:
            await self._failures.record(user, context)
            raise AuthenticationFailed(WRONG_CREDENTIALS)
        rehashed = None
        if self._hasher.needs_rehash(user.password_hash):
            rehashed = user.password_hash = await self._hasher.hash(credentials.password)
        if rehashed or user.failed_logins or user.locked_until:
            user.failed_logins, user.locked_until = 0, None
            await self._users.set_sign_in_state(
                user.id, failed_logins=0, locked_until=None, password_hash=rehashed
            )
        await self._audit.record(
            audit_event(context, now, "auth.login", target=f"user:{user.id}", actor_id=user.id)
        )
        await self._tx.commit()
        return user
