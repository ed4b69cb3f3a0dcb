"""The worker side of the work context: a job names the request that queued it and, for a
fan-out, the signal, before any of its log lines is written; a job queued inside a traced
request continues that trace."""

from contextvars import ContextVar
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

from mimic.adapters.taskiq_queue import EXECUTE_SIGNAL_TASK, REQUEST_ID_LABEL
from mimic.application import work_context

tracer = trace.get_tracer("mimic.worker")
_job_span: ContextVar[tuple[Span, object] | None] = ContextVar("mimic_job_span", default=None)


class WorkContextMiddleware(TaskiqMiddleware):
    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        # Runs in the job's own asyncio task, so what it sets is that job's alone.
        request_id = message.labels.get(REQUEST_ID_LABEL)
        work_context.handling_request(str(request_id) if request_id else None)
        fan_out = message.task_name == EXECUTE_SIGNAL_TASK and bool(message.args)
        if fan_out:
            work_context.working_on_signal(str(message.args[0]))
        if "traceparent" in message.labels:  # periodic jobs start no trace of their own
            parent = propagate.extract({k: str(v) for k, v in message.labels.items()})
            name = "fan-out" if fan_out else message.task_name
            span = tracer.start_span(name, context=parent, kind=SpanKind.CONSUMER)
            if fan_out:
                span.set_attribute("mimic.signal_id", str(message.args[0]))
            token = context.attach(trace.set_span_in_context(span))
            _job_span.set((span, token))
        return message

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        held = _job_span.get()
        if held is None:
            return
        span, token = held
        if result.is_err:
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        context.detach(token)  # type: ignore[arg-type]
        _job_span.set(None)
