"""What the running task works on: a request, a signal, a follower's account.

Set where the work starts (the HTTP middleware, the worker's job, the fan-out per account)
and read by whatever reports on it (log lines, metrics, traces) without passing it along.
Each asyncio task has its own copy, so concurrent followers never see each other's ids.
"""

from contextvars import ContextVar
from datetime import datetime

_request_id: ContextVar[str | None] = ContextVar("mimic_request_id", default=None)
_signal_id: ContextVar[str | None] = ContextVar("mimic_signal_id", default=None)
_signal_received_at: ContextVar[datetime | None] = ContextVar(
    "mimic_signal_received_at", default=None
)
_account_id: ContextVar[str | None] = ContextVar("mimic_account_id", default=None)


def handling_request(request_id: str | None) -> None:
    _request_id.set(request_id)


def working_on_signal(signal_id: str, received_at: datetime | None = None) -> None:
    _signal_id.set(signal_id)
    if received_at is not None:
        _signal_received_at.set(received_at)


def working_on_account(account_id: str | None) -> None:
    _account_id.set(account_id)


def request_id() -> str | None:
    return _request_id.get()


def signal_id() -> str | None:
    return _signal_id.get()


def signal_received_at() -> datetime | None:
    return _signal_received_at.get()


def account_id() -> str | None:
    return _account_id.get()
