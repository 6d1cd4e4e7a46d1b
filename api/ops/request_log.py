"""Structured logs: one line per request, a request id on every line, JSON or text.

The request log is written by `RequestTelemetry` (api/ops/telemetry.py), a pure ASGI middleware, so
it behaves the same under Connexion's FlaskApp and AsyncApp and in the mock. Each request gets
an id (a well-formed `X-Request-ID` from the client, else a new one), echoed in the response and
attached to every log record written while the request runs (errors included), and one `request`
line when it ends: time, request id, method, route template, operationId, status, duration and
the project the key belongs to. The raw path and the query string are never logged (they may
hold ids a tenant wants kept, or a key sent as `?access_token=`), and neither is the
`Authorization` header.

`configure_logging()` sets up the root logger for `craftkit serve` and its workers: JSON
lines by default when stderr is not a terminal (log shippers), human-readable text on a
terminal, or as `CRAFTKIT_LOG_FORMAT` says. A traceback is folded into the JSON line's `exc`
field, so a database error is one line, never several.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Collection, Mapping
from typing import Any, TextIO

from starlette.types import Scope

from api.config import LOG_FORMATS

logger = logging.getLogger("craftkit.request")

# What a client may send as X-Request-ID and have echoed and logged: 1-128 characters, letters,
# digits, `.`, `_` and `-` (UUIDs, ULIDs, trace ids). Anything else is replaced by a new id, so
# a header can never inject text or line breaks into the logs.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
UNMATCHED = "-"  # the route of a request that matched no route: never its raw path

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "craftkit_request_id", default=None
)


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID when it is well-formed, else a new random id."""
    for name, value in headers:
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1").strip()
            if REQUEST_ID.fullmatch(text):
                return text
            break
    return new_request_id()


def new_request_id() -> str:
    """A random (version 4) UUID as text: `str(uuid.uuid4())` at a third of its cost, run
    for every request that brings no id of its own."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class RouteTemplates:
    """The route a request matched, as a template: `/v1/renders/{id}/engagement`, never the path.

    `operations` maps operationIds to their path templates; `fixed` lists operational paths,
    where an entry ending in `/{file}` stands for every path under it (static assets).
    """

    def __init__(self, operations: Mapping[str, str], fixed: Collection[str] = ()) -> None:
        self.operations = dict(operations)
        self.exact = {path for path in fixed if not path.endswith("/{file}")}
        self.prefixes = [
            (path.removesuffix("{file}"), path) for path in fixed if path.endswith("/{file}")
        ]

    def route(self, scope: Scope, operation_id: str | None) -> str:
        if operation_id is not None and operation_id in self.operations:
            return self.operations[operation_id]
        path = scope.get("path", "")
        if path in self.exact:
            return str(path)
        for prefix, template in self.prefixes:
            if path.startswith(prefix):
                return template
        return UNMATCHED


def log_request(fields: dict[str, Any]) -> None:
    """Log the `request` line with `fields`, through `logger`'s handlers, filters and level.

    What `logger.info("request", extra={"fields": fields})` does, minus its per-call cost:
    no walk up the stack for the caller, and the record copied from one built once per
    process and thread (only its times differ). It measured a third of the request log's cost.
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    now = time.time()
    key = (os.getpid(), threading.get_ident())
    template = _RECORDS.get(key)
    if template is None:
        made = logger.makeRecord(
            logger.name, logging.INFO, __file__, 0, "request", (), None, "log_request"
        )
        template = _RECORDS[key] = made.__dict__
    record = logging.LogRecord.__new__(logging.LogRecord)
    values = record.__dict__
    values.update(template)
    values["created"] = now
    values["msecs"] = int((now - int(now)) * 1000) + 0.0
    values["relativeCreated"] = template["relativeCreated"] + (now - template["created"]) * 1000
    values["fields"] = fields
    logger.handle(record)


# (process id, thread id) -> a request record's attributes, made by logging itself.
_RECORDS: dict[tuple[int, int], dict[str, Any]] = {}


# --- formatting ------------------------------------------------------------------------------


class RequestIdFilter(logging.Filter):
    """Stamps every record with the id of the request being served (or None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


_second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text


def _timestamp(record: logging.LogRecord) -> str:
    """`2026-11-25T16:46:03.123Z`; the seconds formatted once per second, not per line."""
    global _second
    whole = int(record.created)
    second, text = _second
    if second != whole:
        moment = datetime.datetime.fromtimestamp(whole, tz=datetime.UTC)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        _second = (whole, text)
    return f"{text}.{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line["error"] = f"{type(exc).__name__}: {exc}"
            line["exc"] = self.formatException(record.exc_info)
        # The standard library's spacing (`"key": value`), which log queries may rely on;
        # orjson would save ~3 µs a line but can only write compact JSON.
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """For a terminal: `time level logger message key=value …`, request lines compacted."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = dict(getattr(record, "fields", {}))
        if record.name == logger.name and "route" in fields:
            project = fields.pop("project", None)
            message = (
                f"{fields.pop('method')} {fields.pop('route')} -> {fields.pop('status')} "
                f"in {fields.pop('duration_ms')} ms"
                + (f" project={project}" if project is not None else "")
            )
            fields.pop("operation", None)
        else:
            message = record.getMessage()
        request_id = getattr(record, "request_id", None)
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        text = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {message}"
        if extra:
            text += f" {extra}"
        if request_id:
            text += f" [{request_id}]"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def resolve_format(fmt: str, stream: TextIO) -> str:
    """`auto` means text on a terminal and JSON otherwise."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
    if fmt != "auto":
        return fmt
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def configure_logging(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> str:
    """Send every log record (ours, uvicorn's, Connexion's) to `stream` in one format.

    Returns the format chosen. Replaces the root logger's handlers, so calling it again (a
    uvicorn worker process, a test) does not duplicate lines.
    """
    stream = stream or sys.stderr
    chosen = resolve_format(fmt, stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "craftkit", False):
            root.removeHandler(old)
    handler.craftkit = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's loggers write through the root handler, in the same format; its access log is
    # replaced by the request line above (it would print the raw path and query string).
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    return chosen
