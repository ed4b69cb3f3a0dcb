from dataclasses import dataclass

from mimic.application.audit_trail import SYSTEM, RequestContext, audit_event
from mimic.domain.accounts import User
from mimic.domain.errors import AuthenticationFailed, TooManyRequests
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
        self._lockout = lockout

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
        target = f"user:{user.id}"
        if user.locked_until is not None and now < user.locked_until:
            # No password check while locked: guessing gains nothing during the lock.
            await self._audit.record(
                audit_event(context, now, "auth.login_blocked", target=target, actor_id=user.id)
            )
            await self._tx.commit()
            wait = int((user.locked_until - now).total_seconds()) + 1
            raise TooManyRequests("too many failed sign-ins; try again later", wait)
        valid = await self._hasher.verify(user.password_hash, credentials.password)
        if not valid or not user.active:
            await self._record_failure(user, context)
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
            audit_event(context, now, "auth.login", target=target, actor_id=user.id)
        )
        await self._tx.commit()
        return user

    async def _record_failure(self, user: User, context: RequestContext) -> None:
        now = self._clock.now()
        target = f"user:{user.id}"
        user.failed_logins = await self._users.count_failed_login(user.id)
        await self._audit.record(
            audit_event(
                context,
                now,
                "auth.login_failed",
                target=target,
                failures=str(user.failed_logins),
            )
        )
        lock = self._lockout.lock_for(user.failed_logins)
        if lock is not None:
            user.locked_until = now + lock
            await self._users.set_sign_in_state(
                user.id, failed_logins=user.failed_logins, locked_until=user.locked_until
            )
            await self._audit.record(
                audit_event(
                    context,
                    now,
                    "auth.locked",
                    target=target,
                    seconds=str(int(lock.total_seconds())),
                    failures=str(user.failed_logins),
                )
            )
        await self._tx.commit()
