"""The signal queue's kick: the message it builds itself is the one taskiq's kicker builds,
and a broker whose middleware sees messages being sent gets them through taskiq's kicker."""

from collections.abc import AsyncGenerator

from taskiq import AsyncBroker, BrokerMessage, TaskiqMessage, TaskiqMiddleware
from taskiq.kicker import AsyncKicker

from mimic.adapters.taskiq_queue import EXECUTE_SIGNAL_TASK, REQUEST_ID_LABEL, TaskiqSignalQueue
from mimic.application import work_context


class RecordingBroker(AsyncBroker):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[BrokerMessage] = []

    async def kick(self, message: BrokerMessage) -> None:
        self.sent.append(message)

    async def listen(self) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError
        yield b""  # an async generator, as the broker's interface has it


class SeesSending(TaskiqMiddleware):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[TaskiqMessage] = []

    def pre_send(self, message: TaskiqMessage) -> TaskiqMessage:
        self.seen.append(message)
        return message


async def test_the_queues_message_is_the_one_taskiqs_kicker_sends() -> None:
    broker = RecordingBroker()
    work_context.handling_request("req-17")
    await TaskiqSignalQueue(broker).enqueue_execution("signal-1", 2)
    labels = {REQUEST_ID_LABEL: "req-17"}
    kicker: AsyncKicker[..., None] = AsyncKicker(EXECUTE_SIGNAL_TASK, broker, labels)
    await kicker.kiq("signal-1", 2)

    ours, taskiqs = broker.sent
    assert ours.task_id != taskiqs.task_id
    assert (ours.task_name, ours.labels) == (taskiqs.task_name, taskiqs.labels)
    read = broker.formatter.loads(ours.message)
    expected = broker.formatter.loads(taskiqs.message)
    assert read.task_id == ours.task_id
    assert read.model_copy(update={"task_id": expected.task_id}) == expected
    read.parse_labels()
    assert read.args == ["signal-1", 2]
    assert read.labels == {REQUEST_ID_LABEL: "req-17"}


async def test_a_middleware_that_sees_sending_gets_every_message() -> None:
    broker = RecordingBroker()
    middleware = SeesSending()
    broker.add_middlewares(middleware)
    work_context.handling_request(None)
    await TaskiqSignalQueue(broker).enqueue_execution("signal-2")

    (seen,) = middleware.seen
    (sent,) = broker.sent
    assert (seen.task_id, seen.args) == (sent.task_id, ["signal-2", 0])
