"""The panic kill switch: who may pull it (a one-time password) and what it did per account."""

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

MAX_FAILED_OTPS = 5
LOCKOUT = timedelta(minutes=15)


class OtpVerdict(enum.StrEnum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    REPLAYED = "replayed"
    LOCKED = "locked"


@dataclass(slots=True)
class PanicGuardState:
    """What is remembered between attempts (one row for the platform).

    `last_step` is the TOTP time step of the last accepted code: a code of that step or an
    earlier one is never accepted again. `failures` counts wrong codes since the last
    accepted one; reaching `MAX_FAILED_OTPS` locks panic until `locked_until`.
    """

    last_step: int = -1
    failures: int = 0
    locked_until: datetime | None = None
    confirmed: bool = False

    def judge(self, matched_step: int | None, now: datetime) -> OtpVerdict:
        """Decide an attempt; `matched_step` is the time step the code is valid for, if any.

        Applies the verdict to the state: the caller stores it before acting on it.
        """
        if self.locked_until is not None and now < self.locked_until:
            return OtpVerdict.LOCKED
        if matched_step is None or matched_step <= self.last_step:
            self.failures += 1
            if self.failures >= MAX_FAILED_OTPS:
                self.locked_until = now + LOCKOUT
                self.failures = 0
            return OtpVerdict.WRONG if matched_step is None else OtpVerdict.REPLAYED
        self.last_step = matched_step
        self.failures = 0
        self.locked_until = None
        return OtpVerdict.ACCEPTED


class PanicStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"


@dataclass(slots=True)
class AccountOutcome:
    """What the panic did on one exchange account."""

    account_id: str
    user_id: str
    exchange: str
    closed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def summary(self) -> str:
        parts = []
        if self.closed:
            parts.append(f"closed {', '.join(self.closed)}")
        if self.failed:
            parts.append(
                "failed " + ", ".join(f"{symbol} ({why})" for symbol, why in self.failed.items())
            )
        if self.pending:
            parts.append(f"still settling {', '.join(self.pending)}")
        if self.error:
            parts.append(f"could not read the account: {self.error}")
        return "; ".join(parts) or "no open position"


@dataclass(slots=True)
class PanicRun:
    id: str
    actor_id: str
    started_at: datetime
    status: PanicStatus = PanicStatus.RUNNING
    accounts: list[AccountOutcome] = field(default_factory=list)
    finished_at: datetime | None = None


def panic_key(run_id: str, symbol: str) -> str:
    """What a panic close's deterministic client order id derives from (with the account)."""
    return f"panic:{run_id}:{symbol}"
