"""Escalating lockout after repeated failed sign-ins."""

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """`threshold` failures in a row lock the account for `first_lock`; every further
    failure doubles the lock, up to `longest_lock`. A successful sign-in starts over."""

    threshold: int = 5
    first_lock: timedelta = timedelta(minutes=1)
    longest_lock: timedelta = timedelta(minutes=30)

    def lock_for(self, consecutive_failures: int) -> timedelta | None:
        if consecutive_failures < self.threshold:
            return None
        doublings = min(consecutive_failures - self.threshold, 20)
        return min(self.first_lock * (1 << doublings), self.longest_lock)
