"""GET /metrics over HTTP on the real app: the platform's mimic_* metrics move with a real
fan-out, labels name no user or account, and the operator's token and off switch hold."""

import socket

from prometheus_client.parser import text_string_to_metric_families
from taskiq import InMemoryBroker

from tests.integration.harness import Api, make_settings, running_platform

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(api: Api, **headers: str) -> tuple[str, Samples]:
    response = await api.client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return response.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_a_fan_out_moves_the_platforms_metrics_with_bounded_labels(
    sqlite_url: str,
) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        token, account_id = await api.follower("mia")
        _, before = await scrape(api)
        sent = await api.signal(symbol="BTCUSDT", action="long", id="m-1")
        await api.settled_report(sent["signal_id"])
        repeat = await api.client.post(
            "/webhook", json={"passphrase": "webhook-passphrase-for-tests", "symbol": "BTCUSDT",
                              "action": "long", "id": "m-1"},
        )  # fmt: skip
        assert repeat.json()["duplicate"] is True
        refused = await api.client.post(
            "/webhook", json={"passphrase": "wrong", "symbol": "BTCUSDT", "action": "long"}
        )
        assert refused.status_code == 401
        me = (await api.client.get("/api/me", headers=api.auth(token))).json()
        text, after = await scrape(api)

    signals = "mimic_signals_received_total"
    assert grew(before, after, signals, source="default", outcome="accepted") == 1
    assert grew(before, after, signals, source="default", outcome="duplicate") == 1
    assert grew(before, after, signals, source="unknown", outcome="refused") == 1
    assert grew(before, after, "mimic_orders_total", exchange="paper", outcome="filled") == 1
    assert grew(before, after, "mimic_fanout_duration_seconds_count") >= 1
    assert grew(before, after, "mimic_queue_lag_seconds_count") >= 1
    assert grew(before, after, "mimic_signal_to_fill_seconds_count", exchange="paper") == 1
    assert value(after, "mimic_dependency_up", dependency="database") == 1
    webhook_calls = [
        labels
        for (name, labels), _ in after.items()
        if name == "mimic_http_requests_total" and ("path", "/webhook") in labels
    ]
    assert webhook_calls, text
    # Paths are route templates: no signal, user or account id becomes a label.
    for private in (sent["signal_id"], account_id, me["id"]):
        assert private not in text


async def test_a_metrics_token_is_required_when_set(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, metrics_token="scrape-token-123")
    async with running_platform(settings) as api:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape"}):
            response = await api.client.get("/metrics", headers=headers)
            assert response.status_code == 401, response.text
            assert "mimic_" not in response.text
        await scrape(api, Authorization="Bearer scrape-token-123")


async def test_metrics_can_be_switched_off(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, metrics_enabled=False)
    async with running_platform(settings) as api:
        response = await api.client.get("/metrics")
        assert response.status_code == 404


async def test_an_unreachable_redis_shows_as_down_and_not_ready(sqlite_url: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = make_settings(sqlite_url, redis_url=f"redis://127.0.0.1:{port}/0")
    async with running_platform(settings, broker=InMemoryBroker(), embedded_worker=False) as api:
        ready = await api.client.get("/health/ready")
        _, samples = await scrape(api)
    assert ready.status_code == 503
    assert "redis: ConnectionError" in ready.text
    assert value(samples, "mimic_dependency_up", dependency="redis") == 0
    assert value(samples, "mimic_dependency_up", dependency="database") == 1
