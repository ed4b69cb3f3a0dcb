"""The worker side of the work context: a job names the request that queued it and, for a
fan-out, the signal, before any of its log lines is written."""

from taskiq import TaskiqMessage, TaskiqMiddleware

from mimic.adapters.taskiq_queue import EXECUTE_SIGNAL_TASK, REQUEST_ID_LABEL
from mimic.application import work_context


class WorkContextMiddleware(TaskiqMiddleware):
    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        # Runs in the job's own asyncio task, so what it sets is that job's alone.
        request_id = message.labels.get(REQUEST_ID_LABEL)
        work_context.handling_request(str(request_id) if request_id else None)
        if message.task_name == EXECUTE_SIGNAL_TASK and message.args:
            work_context.working_on_signal(str(message.args[0]))
        return message
