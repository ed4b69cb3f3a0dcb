"""What happened to a signal, per follower account."""

from collections import defaultdict
from dataclasses import dataclass

from mimic.domain.accounts import User
from mimic.domain.errors import NotFound
from mimic.domain.fidelity import CopyFidelity, copy_fidelity
from mimic.domain.orders import IntentStatus, OrderIntent
from mimic.domain.signal import Signal
from mimic.ports.repositories import OrderIntentRepository, SignalRepository


@dataclass(frozen=True, slots=True)
class AccountOutcome:
    account_id: str
    user_id: str
    status: str  # filled | rejected | skipped | pending
    reason: str | None
    orders: list[OrderIntent]
    # Each filled order against the signal's reference: latency and slippage.
    copies: list[CopyFidelity]


@dataclass(frozen=True, slots=True)
class SignalReport:
    signal: Signal
    accounts: list[AccountOutcome]
    counts: dict[str, int]


def account_outcome(legs: list[OrderIntent]) -> tuple[str, str | None]:
    """One word per account: pending until every leg is final, then the worst leg wins."""
    if any(not leg.status.is_final for leg in legs):
        pending = next(leg for leg in legs if not leg.status.is_final)
        return "pending", pending.reason
    for status in (IntentStatus.REJECTED, IntentStatus.SKIPPED):
        for leg in legs:
            if leg.status is status:
                return status.value, leg.reason
    return "filled", None


class ReportSignals:
    def __init__(self, signals: SignalRepository, intents: OrderIntentRepository) -> None:
        self._signals = signals
        self._intents = intents

    async def list_recent(self, limit: int = 100, source_id: str | None = None) -> list[Signal]:
        """Newest first; with `source_id`, only that source's signals."""
        return await self._signals.list_recent(limit=limit, source_id=source_id)

    async def report(self, signal_id: str, viewer: User) -> SignalReport:
        """Admins see every account; a follower only their own, and a signal that reached
        none of their accounts is not found."""
        signal = await self._signals.get(signal_id)
        if signal is None:
            raise NotFound("signal not found")
        by_account: dict[str, list[OrderIntent]] = defaultdict(list)
        for intent in await self._intents.list_for_signal(signal_id):
            if viewer.is_admin or intent.user_id == viewer.id:
                by_account[intent.account_id].append(intent)
        if not by_account and not viewer.is_admin:
            raise NotFound("signal not found")
        outcomes = []
        counts: dict[str, int] = defaultdict(int)
        for account_id, legs in by_account.items():
            status, reason = account_outcome(legs)
            counts[status] += 1
            copies = [
                c
                for leg in legs
                if (c := copy_fidelity(leg, signal.received_at, signal.reference_price))
            ]
            outcomes.append(
                AccountOutcome(account_id, legs[0].user_id, status, reason, legs, copies)
            )
        return SignalReport(signal, outcomes, dict(counts))
