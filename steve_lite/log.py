"""Logging: human-readable lines by default, or one JSON object per line
(``STEVE_LOG_FORMAT=json``); the request id, and the company once known, on every line logged
while serving a request."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
company_id_var: ContextVar[str | None] = ContextVar("company_id", default=None)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
LOG_FORMATS = ("text", "json")
ACCESS_LOGGER = "steve_lite.access"
# Attributes every LogRecord has; anything else was passed with ``extra=`` and is a JSON field.
STANDARD_ATTRIBUTES = frozenset(
    set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
)
CONTEXT_FIELDS = {"request_id": "requestId", "company_id": "companyId"}


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (or ``-``) and ``company_id`` (or None) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        if not hasattr(record, "company_id"):
            record.company_id = company_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the request's ids, the
    fields given with ``extra=`` (camelCase), and the exception's traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for attribute, field in CONTEXT_FIELDS.items():
            value = getattr(record, attribute, None)
            if value not in (None, "-"):
                line[field] = value
        for attribute, value in vars(record).items():
            if attribute not in STANDARD_ATTRIBUTES and attribute not in CONTEXT_FIELDS:
                line[camel_case(attribute)] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    """Send every log line to stderr in one format, with the request id.

    In ``json`` format the API also logs one line per request (logger ``steve_lite.access``:
    route, method, status, duration); in ``text`` format only at ``DEBUG``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(LOG_FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "huey", "litestar"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    access = logging.getLogger(ACCESS_LOGGER)
    quiet = log_format == "text" and level.upper() != "DEBUG"
    access.setLevel(logging.WARNING if quiet else logging.NOTSET)
