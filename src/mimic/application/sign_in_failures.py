"""Failed password checks, wherever a password is asked for (sign-in, password change):
each counts towards the account's lockout, and a locked account checks no password."""

from mimic.application.audit_trail import RequestContext, audit_event
from mimic.domain.accounts import User
from mimic.domain.errors import TooManyRequests
from mimic.domain.lockout import LockoutPolicy
from mimic.ports.repositories import AuditLog, TransactionManager, UserRepository
from mimic.ports.services import Clock

LOCKED = "too many failed sign-ins; try again later"


class SignInFailures:
    def __init__(
        self,
        users: UserRepository,
        audit: AuditLog,
        tx: TransactionManager,
        clock: Clock,
        lockout: LockoutPolicy,
    ) -> None:
        self._users = users
        self._audit = audit
        self._tx = tx
        self._clock = clock
        self._lockout = lockout

    async def refuse_if_locked(self, user: User, context: RequestContext) -> None:
        """No password check while locked: guessing gains nothing during the lock."""
        now = self._clock.now()
        if user.locked_until is None or now >= user.locked_until:
            return
        await self._audit.record(
            audit_event(
                context, now, "auth.login_blocked", target=f"user:{user.id}", actor_id=user.id
            )
        )
        await self._tx.commit()
        raise TooManyRequests(LOCKED, int((user.locked_until - now).total_seconds()) + 1)

    async def record(self, user: User, context: RequestContext) -> None:
        """Counts one failure (atomically: concurrent guesses all count) and locks the
        account once the policy says so."""
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
