"""With MIMIC_OTEL_ENDPOINT, one alert is one trace: the webhook's request span, the
worker's fan-out span under it, and one order span per follower under that. Real `mimic
serve` and `mimic worker` processes export to a collector this test runs."""

import asyncio
import gzip
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.integration.harness import ADMIN_PASSWORD, PASSPHRASE, Api
from tests.integration.processes import production_env, running


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Collector:
    """An OTLP/HTTP receiver keeping every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Span] = []

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        for resource in export.resource_spans:
            for scope in resource.scope_spans:
                self.spans.extend(scope.spans)
        return web.Response(body=b"", content_type="application/x-protobuf")


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    """On a loop of its own: stopping a process blocks the test's loop while it flushes."""
    keeper = Collector()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="otlp-collector", daemon=True)
    thread.start()
    app = web.Application()
    app.router.add_post("/v1/traces", keeper.receive)
    runner = web.AppRunner(app)
    port = free_port()

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield keeper, f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def attribute(span: Span, key: str) -> str:
    return next(a.value.string_value for a in span.attributes if a.key == key)


async def wait_ready(client: httpx.AsyncClient, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if (await client.get("/health/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"not ready, see {log}"
        await asyncio.sleep(0.2)


async def test_an_alert_is_one_trace_from_the_webhook_to_each_followers_order(
    postgres_url: str, redis_url: str, tmp_path: Path, collector: tuple[Collector, str]
) -> None:
    keeper, endpoint = collector
    port = free_port()
    env = production_env(
        postgres_url,
        redis_url,
        tmp_path,
        MIMIC_OTEL_ENDPOINT=endpoint,
        MIMIC_PORT=str(port),
        MIMIC_ADMIN_PASSWORD=ADMIN_PASSWORD,
        MIMIC_WEBHOOK_PASSPHRASE=PASSPHRASE,
    )
    migrate = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mimic.entrypoints.cli", "migrate", env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await migrate.wait() == 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        with (
            running("serve", env, tmp_path / "serve.log"),
            running("worker", env, tmp_path / "worker.log"),
        ):
            await wait_ready(client, tmp_path / "serve.log")
            api = Api(client=client, admin_token="")  # type: ignore[arg-type]
            api.admin_token = await api.login("admin", ADMIN_PASSWORD)
            followers = [(await api.follower(name))[1] for name in ("ada", "ben")]
            sent = await api.signal(symbol="BTCUSDT", action="long")
            report = await api.settled_report(sent["signal_id"])
            assert report["counts"] == {"filled": 2}, report
        # Both stopped: each flushed its spans on the way out.

    spans = keeper.spans
    (webhook,) = [s for s in spans if s.name == "POST /webhook"]
    trace = [s for s in spans if s.trace_id == webhook.trace_id]
    (fan_out,) = [s for s in trace if s.name == "fan-out"]
    assert fan_out.parent_span_id == webhook.span_id
    assert attribute(fan_out, "mimic.signal_id") == sent["signal_id"]
    orders = [s for s in trace if s.name == "order"]
    assert sorted(attribute(s, "mimic.account_id") for s in orders) == sorted(followers)
    assert {s.parent_span_id for s in orders} == {fan_out.span_id}
    assert {attribute(s, "mimic.outcome") for s in orders} == {"filled"}
