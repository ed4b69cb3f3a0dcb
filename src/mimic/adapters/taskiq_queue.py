import asyncio
import logging

from opentelemetry import propagate
from taskiq import AsyncBroker, BrokerMessage, TaskiqMiddleware
from taskiq.formatters.proxy_formatter import ProxyFormatter
from taskiq.kicker import AsyncKicker
from taskiq.labels import prepare_label

from mimic.application import work_context
from mimic.ports.credentials import ValidationQueue
from mimic.ports.services import SignalQueue

log = logging.getLogger(__name__)

EXECUTE_SIGNAL_TASK = "mimic.execute_signal"
VALIDATE_CONNECTION_TASK = "mimic.validate_connection"
# The request that queued a job travels with it, so the worker's log lines name it too.
REQUEST_ID_LABEL = "request_id"
# Kicks happen on the request path (the webhook answers TradingView within its 3 s): a hung
# Redis costs a request at most this long.
KICK_TIMEOUT_SECONDS = 0.5


class _TaskKicker:
    """Kicks a worker task by name, so adapters never import the entrypoint. Best effort:
    what it enqueues is stored first, and the sweeper re-drives whatever a lost kick left."""

    def __init__(self, broker: AsyncBroker, task_name: str, what: str) -> None:
        self._task_name = task_name
        self._broker = broker
        self._what = what

    async def kick(self, item_id: str, *more: object) -> None:
        labels: dict[str, str] = {}
        request_id = work_context.request_id()
        if request_id:
            labels[REQUEST_ID_LABEL] = request_id
        propagate.inject(labels)  # the trace's context (traceparent), when one is recorded
        args = [item_id, *more]
        try:
            async with asyncio.timeout(KICK_TIMEOUT_SECONDS):
                if self._plain(args):
                    await self._broker.kick(self._message(labels, args))
                else:
                    # A kicker per job: with_labels() would change a kicker others share.
                    kicker: AsyncKicker[..., None] = AsyncKicker(
                        task_name=self._task_name, broker=self._broker, labels=labels
                    )
                    await kicker.kiq(*args)
        except Exception:  # TimeoutError included
            log.exception("could not enqueue %s %s; the sweeper will re-drive it", self._what,
                          item_id)  # fmt: skip

    def _plain(self, args: list[object]) -> bool:
        """Whether taskiq's own kicker would send just what `_message` builds: its formatter,
        no middleware that sees a message being sent, arguments JSON has as they are."""
        broker = self._broker
        return (
            type(broker.formatter) is ProxyFormatter
            and all(type(arg) in _PLAIN for arg in args)
            and not any(
                type(middleware).pre_send is not TaskiqMiddleware.pre_send
                or type(middleware).post_send is not TaskiqMiddleware.post_send
                for middleware in broker.middlewares
            )
        )

    def _message(self, labels: dict[str, str], args: list[object]) -> BrokerMessage:
        """The message taskiq's kicker and formatter would build, without their two pydantic
        models validated and dumped per kick: a quarter of enqueueing a signal at the webhook
        (py-spy of bench/intake.py)."""
        wire_labels: dict[str, str] = {}
        label_types: dict[str, int] = {}
        for name, value in labels.items():
            wire_labels[name], label_types[name] = prepare_label(value)
        task_id = self._broker.id_generator()
        body = {
            "task_id": task_id,
            "task_name": self._task_name,
            "labels": wire_labels,
            "labels_types": label_types,
            "args": args,
            "kwargs": {},
        }
        return BrokerMessage.model_construct(
            task_id=task_id,
            task_name=self._task_name,
            message=self._broker.serializer.dumpb(body),
            labels=wire_labels,
        )


# Arguments taskiq's kicker passes on unchanged (it converts models and dataclasses).
_PLAIN = frozenset({str, int, float, bool, type(None)})


class TaskiqSignalQueue(SignalQueue):
    def __init__(self, broker: AsyncBroker) -> None:
        self._tasks = _TaskKicker(broker, EXECUTE_SIGNAL_TASK, "signal")

    async def enqueue_execution(self, signal_id: str, part: int = 0) -> None:
        await self._tasks.kick(signal_id, part)


class TaskiqValidationQueue(ValidationQueue):
    def __init__(self, broker: AsyncBroker) -> None:
        self._tasks = _TaskKicker(broker, VALIDATE_CONNECTION_TASK, "the check of connection")

    async def enqueue_validation(self, account_id: str) -> None:
        await self._tasks.kick(account_id)
