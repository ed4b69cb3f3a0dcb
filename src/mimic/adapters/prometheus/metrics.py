"""The Metrics port on prometheus_client, served by GET /metrics (mimic.entrypoints.http).

The metric objects are created once per process on prometheus_client's default registry.
With PROMETHEUS_MULTIPROC_DIR set, prometheus_client writes them to files there and any
process's /metrics adds up every process of the host (the gauges say how).
"""

from functools import lru_cache

from prometheus_client import Counter, Gauge, Histogram

from mimic.ports.metrics import Metrics

# Seconds: from a few milliseconds (paper) to the minutes a stalled fan-out takes.
_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

SIGNALS = Counter(
    "mimic_signals_received", "Webhook signals by source and outcome", ["source", "outcome"]
)
FANOUT_SECONDS = Histogram(
    "mimic_fanout_duration_seconds", "Run time of one fan-out job (a signal part)", buckets=_SECONDS
)
QUEUE_LAG = Histogram(
    "mimic_queue_lag_seconds",
    "From a signal's receipt to its fan-out job starting",
    buckets=_SECONDS,
)
ORDERS = Counter("mimic_orders", "Orders sent by exchange and outcome", ["exchange", "outcome"])
EXCHANGE_ERRORS = Counter(
    "mimic_exchange_errors", "Exchange errors by exchange and kind", ["exchange", "code"]
)
SIGNAL_TO_FILL = Histogram(
    "mimic_signal_to_fill_seconds",
    "From a signal's receipt to one of its orders filling",
    ["exchange"],
    buckets=_SECONDS,
)
OUTBOX_BACKLOG = Gauge(
    "mimic_outbox_backlog",
    "Notifications due at the last delivery pass",
    multiprocess_mode="livemax",
)
DELIVERY_FAILURES = Counter(
    "mimic_notification_delivery_failures", "Notifications not delivered, by channel", ["channel"]
)
REQUEST_WEIGHT = Gauge(
    "mimic_exchange_request_weight_used",
    "Request weight the exchange counts for this egress IP in its window",
    ["exchange", "egress_ip"],
    multiprocess_mode="livemax",
)
DASHBOARD_CONNECTIONS = Gauge(
    "mimic_dashboard_connections", "Live dashboard WebSockets open", multiprocess_mode="livesum"
)
ACCOUNT_STREAMS = Gauge(
    "mimic_account_streams_held", "Exchange account event streams held", multiprocess_mode="livesum"
)
DEPENDENCY_UP = Gauge(
    "mimic_dependency_up",
    "1 when the service answered at the last scrape, else 0",
    ["dependency"],
    multiprocess_mode="livemin",
)


# The labelled series a fan-out counts once per order, looked up once per label set
# (prometheus_client's `labels()` takes a lock and builds a key on every call).
@lru_cache(maxsize=256)
def _orders(exchange: str, outcome: str) -> Counter:
    return ORDERS.labels(exchange, outcome)


@lru_cache(maxsize=64)
def _signal_to_fill(exchange: str) -> Histogram:
    return SIGNAL_TO_FILL.labels(exchange)


class PrometheusMetrics(Metrics):
    def __init__(self, egress_ip: str = "default") -> None:
        self._egress_ip = egress_ip

    def signal_received(self, source: str, outcome: str) -> None:
        SIGNALS.labels(source, outcome).inc()

    def fanout_finished(self, seconds: float) -> None:
        FANOUT_SECONDS.observe(seconds)

    def queue_lag(self, seconds: float) -> None:
        QUEUE_LAG.observe(max(0.0, seconds))

    def order_sent(self, exchange: str, outcome: str) -> None:
        _orders(exchange, outcome).inc()

    def exchange_error(self, exchange: str, code: str) -> None:
        EXCHANGE_ERRORS.labels(exchange, code).inc()

    def signal_filled(self, exchange: str, seconds: float) -> None:
        _signal_to_fill(exchange).observe(max(0.0, seconds))

    def outbox_backlog(self, waiting: int) -> None:
        OUTBOX_BACKLOG.set(waiting)

    def delivery_failed(self, channel: str, notifications: int) -> None:
        DELIVERY_FAILURES.labels(channel).inc(notifications)

    def request_weight_used(self, exchange: str, used: int) -> None:
        REQUEST_WEIGHT.labels(exchange, self._egress_ip).set(used)

    def dashboard_connections_changed(self, delta: int) -> None:
        DASHBOARD_CONNECTIONS.inc(delta)

    def account_streams_held(self, streams: int) -> None:
        ACCOUNT_STREAMS.set(streams)

    def dependency_up(self, dependency: str, up: bool) -> None:
        DEPENDENCY_UP.labels(dependency).set(1 if up else 0)
