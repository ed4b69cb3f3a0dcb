"""Rate limits on the doors people knock on: sign-in, sign-up, password reset, webhook."""

from dataclasses import dataclass
from datetime import timedelta

from mimic.domain.errors import TooManyRequests
from mimic.ports.accounts import RateLimiter


@dataclass(frozen=True, slots=True)
class Limit:
    requests: int
    window: timedelta

    @classmethod
    def parse(cls, text: str) -> "Limit":
        """ "20/60" = 20 requests per 60 seconds."""
        count, _, seconds = text.partition("/")
        limit = cls(int(count), timedelta(seconds=int(seconds or "60")))
        if limit.requests < 1 or limit.window <= timedelta(0):
            raise ValueError(f"a rate limit needs a positive count and window: {text!r}")
        return limit


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per client IP and, where the request names one, per account."""

    login_per_ip: Limit = Limit(30, timedelta(minutes=1))
    login_per_account: Limit = Limit(10, timedelta(minutes=1))
    register_per_ip: Limit = Limit(20, timedelta(hours=1))
    forgot_per_ip: Limit = Limit(10, timedelta(hours=1))
    forgot_per_account: Limit = Limit(3, timedelta(hours=1))
    # Each guess of the current password costs an argon2 verification.
    password_change_per_ip: Limit = Limit(20, timedelta(minutes=15))
    password_change_per_account: Limit = Limit(5, timedelta(minutes=15))
    # TradingView sends from four IPs in bursts; the intake benchmark sends thousands a
    # second from one: this only stops a flood.
    webhook_per_ip: Limit = Limit(20_000, timedelta(minutes=1))


class Throttle:
    def __init__(self, limiter: RateLimiter, limits: RateLimits) -> None:
        self._limiter = limiter
        self.limits = limits

    async def check(self, door: str, *keys: tuple[str, Limit]) -> None:
        """Counts the request under each (key, limit); raises on the first one exceeded."""
        for key, limit in keys:
            wait = await self._limiter.hit(f"{door}:{key}", limit.requests, limit.window)
            if wait is not None:
                raise TooManyRequests(
                    f"too many {door} requests; try again in {int(wait) + 1} s", int(wait) + 1
                )


class LocalThrottle(Throttle):
    """A throttle counting in this process only, for the webhook: it is checked before the
    signal is stored, so it must never wait on a shared store that may hang; a flood comes
    through one door at a time anyway."""
