"""Log output of every process: plain text (the default) or one JSON object per line."""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from mimic.application import work_context

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class WorkContextFilter(logging.Filter):
    """Stamps each record with the request, signal and account the task works on."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = work_context.request_id()
        record.signal_id = work_context.signal_id()
        record.account_id = work_context.account_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the three ids are always there (null when not known)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "signal_id": getattr(record, "signal_id", None),
            "account_id": getattr(record, "account_id", None),
            "process": record.process,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


def configure_logging(log_format: str, level: str = "INFO") -> None:
    """Replaces the root logger's handlers: one to stderr in the chosen format. The filter
    sits on the handler, so records of every logger (uvicorn, taskiq, ccxt) get the ids."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(WorkContextFilter())
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(PLAIN_FORMAT)
    )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
