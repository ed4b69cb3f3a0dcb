"""Signing out, changing and resetting a password: each revokes every earlier token."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from mimic.application.audit_trail import SYSTEM, RequestContext, audit_event
from mimic.application.password_policy import check_password_policy
from mimic.application.sign_in_failures import SignInFailures
from mimic.domain.accounts import User
from mimic.domain.errors import InvalidCode, NotFound, PermissionDenied
from mimic.domain.lockout import LockoutPolicy
from mimic.domain.password_reset import PasswordResetToken
from mimic.ports.accounts import PasswordResetTokens
from mimic.ports.repositories import AuditLog, TransactionManager, UserRepository
from mimic.ports.services import Clock, PasswordHasher

UNUSABLE_RESET_CODE = "the reset code is unknown, used or expired; ask for a new one"


def reset_code_hash(code: str) -> str:
    """Codes are 192 random bits: a fast hash is enough, and lets us look them up."""
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    to: str
    subject: str
    body: str


class SignOut:
    """Revokes every token of the user (all devices): tokens carry no id to deny one by."""

    def __init__(
        self, users: UserRepository, audit: AuditLog, tx: TransactionManager, clock: Clock
    ) -> None:
        self._users = users
        self._audit = audit
        self._tx = tx
        self._clock = clock

    async def __call__(self, user_id: str, context: RequestContext = SYSTEM) -> None:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user not found")
        user.revoke_tokens()
        await self._users.save(user)
        await self._audit.record(
            audit_event(context, self._clock.now(), "auth.logout", target=f"user:{user.id}")
        )
        await self._tx.commit()


@dataclass(frozen=True, slots=True)
class PasswordChange:
    user_id: str
    current_password: str
    new_password: str
    context: RequestContext = SYSTEM


class _PasswordWriter:
    """Stores a new password: every token and open reset code of the user stops working."""

    def __init__(
        self,
        users: UserRepository,
        hasher: PasswordHasher,
        resets: PasswordResetTokens,
        audit: AuditLog,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._resets = resets
        self._audit = audit
        self._tx = tx
        self._clock = clock

    async def _store(self, user: User, password: str, action: str, context: RequestContext) -> User:
        now = self._clock.now()
        user.password_hash = await self._hasher.hash(password)
        user.revoke_tokens()
        user.failed_logins, user.locked_until = 0, None
        await self._users.save(user)
        await self._resets.use_all_for_user(user.id, now)
        await self._audit.record(
            audit_event(context, now, action, target=f"user:{user.id}", actor_id=user.id)
        )
        await self._tx.commit()
        return user


class ChangePassword(_PasswordWriter):
    """A wrong current password is a failed sign-in: it counts towards the lockout, and a
    locked account may not guess here either."""

    def __init__(
        self,
        users: UserRepository,
        hasher: PasswordHasher,
        resets: PasswordResetTokens,
        audit: AuditLog,
        tx: TransactionManager,
        clock: Clock,
        lockout: LockoutPolicy,
    ) -> None:
        super().__init__(users, hasher, resets, audit, tx, clock)
        self._failures = SignInFailures(users, audit, tx, clock, lockout)

    async def __call__(self, change: PasswordChange) -> User:
        user = await self._users.get(change.user_id)
        if user is None:
            raise NotFound("user not found")
        await self._failures.refuse_if_locked(user, change.context)
        if not await self._hasher.verify(user.password_hash, change.current_password):
            await self._failures.record(user, change.context)
            raise PermissionDenied("the current password is wrong")
        check_password_policy(change.new_password, "new_password")
        return await self._store(user, change.new_password, "auth.password_changed", change.context)


class RequestPasswordReset:
    """Issues a single-use code for a known, active address; says nothing either way."""

    def __init__(
        self,
        users: UserRepository,
        resets: PasswordResetTokens,
        audit: AuditLog,
        tx: TransactionManager,
        clock: Clock,
        lifetime: timedelta,
        reset_url: str,
    ) -> None:
        self._users = users
        self._resets = resets
        self._audit = audit
        self._tx = tx
        self._clock = clock
        self._lifetime = lifetime
        self._reset_url = reset_url

    async def __call__(self, email: str, context: RequestContext = SYSTEM) -> OutgoingMail | None:
        user = await self._users.get_by_email(email.strip().lower())
        if user is None or not user.active:
            return None
        now = self._clock.now()
        code = secrets.token_urlsafe(24)
        await self._resets.add(
            PasswordResetToken(
                id=uuid.uuid4().hex,
                user_id=user.id,
                token_hash=reset_code_hash(code),
                created_at=now,
                expires_at=now + self._lifetime,
            )
        )
        await self._audit.record(
            audit_event(context, now, "auth.password_reset_requested", target=f"user:{user.id}")
        )
        await self._tx.commit()
        minutes = int(self._lifetime.total_seconds() // 60)
        return OutgoingMail(
            to=user.email,
            subject="Reset your Mimic password",
            body=(
                f"Hello {user.username},\n\n"
                "someone (hopefully you) asked to reset your Mimic password.\n"
                f"Your reset code, valid for {minutes} minutes and usable once:\n\n"
                f"    {code}\n\n"
                f"Enter it at {self._reset_url} together with your new password.\n"
                "If you did not ask for this, ignore this mail: your password stays as it is.\n"
            ),
        )


@dataclass(frozen=True, slots=True)
class PasswordReset:
    code: str
    new_password: str
    context: RequestContext = SYSTEM


class ResetPassword(_PasswordWriter):
    async def __call__(self, reset: PasswordReset) -> User:
        check_password_policy(reset.new_password, "new_password")
        now = self._clock.now()
        token = await self._resets.find(reset_code_hash(reset.code.strip()))
        if token is None or not token.usable_at(now):
            raise InvalidCode(UNUSABLE_RESET_CODE)
        user = await self._users.get(token.user_id)
        if user is None or not user.active or not await self._resets.use(token.id, now):
            raise InvalidCode(UNUSABLE_RESET_CODE)
        return await self._store(user, reset.new_password, "auth.password_reset", reset.context)
