"""The HTTP metrics middleware: a request counted under its route template and status, an
error counted as one, timed, and no longer in progress once answered; /metrics not counted."""

from typing import Any

from litestar.types import Message, Receive, Scope, Send
from prometheus_client import REGISTRY

from mimic.entrypoints.http.metrics import http_metrics_middleware


def answering(status: int) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        gauge = sample("mimic_http_requests_in_progress", scope["path_template"], 200)
        assert gauge == 1  # counted while it runs
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def sample(name: str, path: str, status: int, method: str = "POST") -> float:
    labels = {"method": method, "path": path, "status_code": str(status), "app_name": "mimic"}
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def call(app: Any, path: str, template: str) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": path, "path_template": template}
    await http_metrics_middleware(app)(scope, receive, send)  # type: ignore[arg-type]
    return sent


async def test_requests_are_counted_by_route_template_and_status() -> None:
    template = "/api/things/{thing_id:str}"
    before = sample("mimic_http_requests_total", template, 503)
    errors_before = sample("mimic_http_requests_error_total", template, 503)
    timed_before = sample("mimic_http_request_duration_seconds_count", template, 503)

    sent = await call(answering(503), "/api/things/abc123", template)
    await call(answering(202), "/api/things/def456", template)

    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sample("mimic_http_requests_total", template, 503) == before + 1
    assert sample("mimic_http_requests_error_total", template, 503) == errors_before + 1
    assert sample("mimic_http_request_duration_seconds_count", template, 503) == timed_before + 1
    assert sample("mimic_http_requests_error_total", template, 202) == 0
    assert sample("mimic_http_requests_in_progress", template, 200) == 0


async def test_the_metrics_route_is_not_counted() -> None:
    before = sample("mimic_http_requests_total", "/metrics", 200, method="POST")
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        sent.append({"type": "called"})

    await call(app, "/metrics", "/metrics")
    assert sent == [{"type": "called"}]
    assert sample("mimic_http_requests_total", "/metrics", 200, method="POST") == before
