"""OpenTelemetry traces to an OTLP/HTTP collector, when MIMIC_OTEL_ENDPOINT is set.

One trace per alert: the webhook's request span, the fan-out job's span in the worker (the
trace context rides with the queued job) and one span per order a follower gets. Without
an endpoint nothing is set up and the spans are OpenTelemetry's no-ops.
"""

import asyncio

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from mimic.entrypoints.config import Settings

FLUSH_TIMEOUT_MILLIS = 5000


async def flush_traces() -> None:
    """Sends the buffered spans now: uvicorn ends `mimic serve` by re-raising SIGTERM,
    which leaves no chance to do it at exit."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        await asyncio.to_thread(provider.force_flush, FLUSH_TIMEOUT_MILLIS)


def configure_tracing(settings: Settings, process: str) -> TracerProvider | None:
    """Installs the process's tracer provider; flush it (`shutdown()`) before exiting."""
    if not settings.otel_endpoint:
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": "mimic", "service.instance.role": process})
    )
    endpoint = settings.otel_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider
