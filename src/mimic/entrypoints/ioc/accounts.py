"""Providers of the accounts work: mail, rate limits, reset codes, messages, admin."""

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide
from redis.asyncio import Redis

from mimic.adapters.logging_mailer import LoggingMailer
from mimic.adapters.rate_limit import MemoryRateLimiter, RedisRateLimiter
from mimic.adapters.smtp_mailer import SmtpConfig, SmtpMailer
from mimic.adapters.sqlalchemy.messages import SqlMessageRepository
from mimic.adapters.sqlalchemy.password_resets import SqlPasswordResetTokens
from mimic.application.audit_trail import ReadAuditTrail
from mimic.application.manage_users import ManageUsers
from mimic.application.messaging import Messaging
from mimic.application.passwords import (
    ChangePassword,
    RequestPasswordReset,
    ResetPassword,
    SignOut,
)
from mimic.application.throttle import LocalThrottle, Throttle
from mimic.domain.lockout import LockoutPolicy
from mimic.domain.quotas import Quotas
from mimic.entrypoints.config import Settings
from mimic.ports.accounts import MessageRepository, PasswordResetTokens, RateLimiter
from mimic.ports.repositories import AuditLog, TransactionManager, UserRepository
from mimic.ports.services import Clock, Mailer


def make_mailer(settings: Settings) -> Mailer:
    if settings.smtp_host is None:
        return LoggingMailer()
    return SmtpMailer(
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.mail_from,
            tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=settings.smtp_password,
        )
    )


class AccountsProvider(Provider):
    @provide(scope=Scope.APP)
    async def rate_limiter(self, settings: Settings) -> AsyncIterator[RateLimiter]:
        """Redis when configured, so every HTTP process counts against the same limits."""
        if settings.redis_url is None:
            yield MemoryRateLimiter()
            return
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=3)
        try:
            yield RedisRateLimiter(redis, settings.rate_limit_key_prefix)
        finally:
            await redis.aclose()

    @provide(scope=Scope.APP)
    def throttle(self, limiter: RateLimiter, settings: Settings) -> Throttle:
        return Throttle(limiter, settings.rate_limits)

    @provide(scope=Scope.APP)
    def local_throttle(self, settings: Settings) -> LocalThrottle:
        return LocalThrottle(MemoryRateLimiter(), settings.rate_limits)

    @provide(scope=Scope.APP)
    def lockout(self, settings: Settings) -> LockoutPolicy:
        return settings.lockout

    @provide(scope=Scope.APP)
    def quotas(self, settings: Settings) -> Quotas:
        return settings.quotas

    resets = provide(SqlPasswordResetTokens, provides=PasswordResetTokens, scope=Scope.REQUEST)
    messages = provide(SqlMessageRepository, provides=MessageRepository, scope=Scope.REQUEST)

    @provide(scope=Scope.REQUEST)
    def request_reset(
        self,
        users: UserRepository,
        resets: PasswordResetTokens,
        audit: AuditLog,
        tx: TransactionManager,
        clock: Clock,
        settings: Settings,
    ) -> RequestPasswordReset:
        return RequestPasswordReset(
            users,
            resets,
            audit,
            tx,
            clock,
            lifetime=settings.password_reset_lifetime,
            reset_url=f"{settings.base_url}/reset",
        )

    sign_out = provide(SignOut, scope=Scope.REQUEST)
    change_password = provide(ChangePassword, scope=Scope.REQUEST)
    reset_password = provide(ResetPassword, scope=Scope.REQUEST)
    manage_users = provide(ManageUsers, scope=Scope.REQUEST)
    messaging = provide(Messaging, scope=Scope.REQUEST)
    audit_trail = provide(ReadAuditTrail, scope=Scope.REQUEST)
