"""What the platform reports about itself to the operator (Prometheus in production).

Labels stay bounded: sources, exchanges, outcomes, error kinds, egress IPs; never a user
or an account.
"""

from typing import Protocol


class Metrics(Protocol):
    def signal_received(self, source: str, outcome: str) -> None:
        """outcome: accepted, duplicate or refused (source "unknown" when unauthenticated)."""

    def fanout_finished(self, seconds: float) -> None:
        """One fan-out job (a part of a signal) ran for `seconds`."""

    def queue_lag(self, seconds: float) -> None:
        """A fan-out job started this long after its signal was received."""

    def order_sent(self, exchange: str, outcome: str) -> None:
        """outcome: filled, rejected, unknown (no answer) or error (not reached)."""

    def exchange_error(self, exchange: str, code: str) -> None:
        """code: the kind of error (insufficient_margin, rate_limited, ...), not its text."""

    def signal_filled(self, exchange: str, seconds: float) -> None:
        """An order of a signal filled `seconds` after the signal was received."""

    def outbox_backlog(self, waiting: int) -> None:
        """Notifications due that one delivery pass found waiting."""

    def delivery_failed(self, channel: str, notifications: int) -> None: ...

    def request_weight_used(self, exchange: str, used: int) -> None:
        """The exchange's own count of this egress IP's request weight in its window."""

    def dashboard_connections_changed(self, delta: int) -> None:
        """Live dashboard WebSockets opened (+1) or closed (-1)."""

    def account_streams_held(self, streams: int) -> None:
        """Exchange account event streams this process holds now."""

    def dependency_up(self, dependency: str, up: bool) -> None:
        """Whether a service the platform needs (database, redis) answered just now."""
