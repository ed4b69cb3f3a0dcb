"""deploy/: the alert rules and the Grafana dashboard ask only for metrics Mimic exports,
cover what an operator must hear about, and every platform metric is on the dashboard."""

import json
import re

import yaml
from prometheus_client import Counter, Gauge, Histogram

from mimic.adapters.prometheus import metrics as platform_metrics
from tests.paths import ROOT

RULES = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
DASHBOARD = json.loads((ROOT / "deploy/grafana/mimic-dashboard.json").read_text())
# The HTTP metrics of mimic.entrypoints.http.metrics (Litestar's Prometheus middleware's names).
HTTP_SERIES = {
    "mimic_http_requests_total",
    "mimic_http_request_duration_seconds_bucket",
    "mimic_http_request_duration_seconds_sum",
    "mimic_http_request_duration_seconds_count",
    "mimic_http_requests_in_progress",
}
_SUFFIXES = {Counter: ("_total",), Gauge: ("",), Histogram: ("_bucket", "_sum", "_count")}


def platform_series() -> dict[str, str]:
    """Each series name the adapter exports -> the metric it belongs to."""
    series = {}
    for metric in vars(platform_metrics).values():
        for kind, suffixes in _SUFFIXES.items():
            if isinstance(metric, kind):
                name = metric._name  # prometheus_client keeps the base name here
                series.update({name + suffix: name for suffix in suffixes})
    return series


def names_in(expression: str) -> set[str]:
    return set(re.findall(r"\bmimic_[a-z0-9_]+", expression))


def alert_rules() -> list[dict[str, object]]:
    return [rule for group in RULES["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    return [target["expr"] for panel in DASHBOARD["panels"] for target in panel["targets"]]


def test_alerts_and_panels_ask_only_for_exported_series() -> None:
    known = set(platform_series()) | HTTP_SERIES
    for expression in [str(r["expr"]) for r in alert_rules()] + dashboard_expressions():
        unknown = names_in(expression) - known
        assert not unknown, f"{sorted(unknown)} in {expression}"


def test_the_alerts_an_operator_must_hear_about_are_there() -> None:
    rules = {str(rule["alert"]): rule for rule in alert_rules()}
    assert {
        "MimicFanoutStalled",
        "MimicOutboxBacklogGrowing",
        "MimicExchangeErrorRate",
        "MimicPostgresUnreachable",
        "MimicRedisUnreachable",
        "MimicAccountStreamsDropped",
    } <= set(rules)
    for name, rule in rules.items():
        labels, annotations = rule["labels"], rule["annotations"]
        assert isinstance(labels, dict)
        assert labels["severity"] in ("warning", "critical"), name
        assert isinstance(annotations, dict)
        assert annotations["summary"], name


def test_every_platform_metric_is_on_the_dashboard() -> None:
    shown = {
        platform_series().get(name, name)
        for expression in dashboard_expressions()
        for name in names_in(expression)
    }
    assert set(platform_series().values()) <= shown
    datasources = {panel["datasource"]["uid"] for panel in DASHBOARD["panels"]}
    assert datasources == {"${datasource}"}  # chosen at import, not a hard-coded uid
