"""A Metrics port that remembers what it was told, for tests of what gets measured."""

from collections import Counter

from mimic.ports.metrics import Metrics


class RecordingMetrics(Metrics):
    def __init__(self) -> None:
        self.signals: Counter[tuple[str, str]] = Counter()
        self.orders: Counter[tuple[str, str]] = Counter()
        self.errors: Counter[tuple[str, str]] = Counter()
        self.fills: list[tuple[str, float]] = []
        self.fanouts: list[float] = []
        self.lags: list[float] = []
        self.backlogs: list[int] = []
        self.delivery_failures: Counter[str] = Counter()
        self.weights: dict[str, int] = {}
        self.dashboard_connections = 0
        self.account_streams = 0
        self.dependencies: dict[str, bool] = {}

    def signal_received(self, source: str, outcome: str) -> None:
        self.signals[source, outcome] += 1

    def fanout_finished(self, seconds: float) -> None:
        self.fanouts.append(seconds)

    def queue_lag(self, seconds: float) -> None:
        self.lags.append(seconds)

    def order_sent(self, exchange: str, outcome: str) -> None:
        self.orders[exchange, outcome] += 1

    def exchange_error(self, exchange: str, code: str) -> None:
        self.errors[exchange, code] += 1

    def signal_filled(self, exchange: str, seconds: float) -> None:
        self.fills.append((exchange, seconds))

    def outbox_backlog(self, waiting: int) -> None:
        self.backlogs.append(waiting)

    def delivery_failed(self, channel: str, notifications: int) -> None:
        self.delivery_failures[channel] += notifications

    def request_weight_used(self, exchange: str, used: int) -> None:
        self.weights[exchange] = used

    def dashboard_connections_changed(self, delta: int) -> None:
        self.dashboard_connections += delta

    def account_streams_held(self, streams: int) -> None:
        self.account_streams = streams

    def dependency_up(self, dependency: str, up: bool) -> None:
        self.dependencies[dependency] = up
