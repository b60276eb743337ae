"""Structured JSON logs: one object a line, each with the id of the request it serves."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

# Attributes every LogRecord has; anything else was passed with extra= and goes into the line.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
REQUEST_ID_HEADER = "X-Request-ID"
# Paths that carry a credential (a sign-in link's key): logged without it.
SECRET_PREFIX = "/app/enter/"
SECRET_PATH = re.compile(f"^({re.escape(SECRET_PREFIX)})[^/]+")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if has_request_context() and "request_id" not in record.__dict__:
            line["request_id"] = g.get("request_id")
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str) -> None:
    """JSON lines on stderr for the holdout and gunicorn loggers, set up once per process."""
    # A record's caller, thread and process are never in a line (see JsonFormatter): finding them
    # for every record is a good part of what a request's access line costs (the switches are the
    # logging documentation's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.handlers = [handler]
    root.setLevel(level)


def _valid_request_id(value: str | None) -> bool:
    return bool(value) and len(value or "") <= 128 and (value or "").isprintable()


def _loggable(path: str) -> str:
    return SECRET_PATH.sub(r"\1[redacted]", path) if path.startswith(SECRET_PREFIX) else path


def install_request_logging(app: Flask) -> None:
    log = logging.getLogger("holdout.access")

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER)
        g.request_id = incoming if _valid_request_id(incoming) else os.urandom(16).hex()
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        started = g.get("started")
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": _loggable(request.path),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)
                if started
                else None,
                "user_id": g.get("user_id"),
            },
        )
        return response
