"""Logging setup: plain text or one JSON object per line, each record with its request id.

The request id comes from the ``X-Request-Id`` header a reverse proxy sets (nginx's
``$request_id``) or is made up when absent (``node.web.middleware.request_id_middleware``);
it lives in a context variable for the request's task, so every line logged while a
request is handled carries it, and the response echoes it for the client to quote.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import datetime, timezone

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("fednode_request_id", default=None)
# What we accept from a client or proxy: short and plain (it is written into every log line).
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FORMATS = ("text", "json")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (or None) on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, log_format: str = "text", stream=None) -> None:
    """Send the node's logs to standard error in ``log_format`` at ``level``.

    Like ``logging.basicConfig``, it leaves a root logger that someone else equipped
    alone (a test runner capturing logs); a handler of ours from an earlier call is replaced.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "fednode", False)]
    if root.handlers and not ours:
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.fednode = True
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    for old in ours:
        root.removeHandler(old)
    root.addHandler(handler)
    level = level.upper()
    root.setLevel(level if level in logging._nameToLevel else "INFO")
