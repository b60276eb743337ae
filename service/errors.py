"""Every error leaves as application/problem+json (RFC 9457) with a detail a person can act on."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, g, json
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    RequestEntityTooLarge,
    TooManyRequests,
)

PROBLEM_TYPE = "application/problem+json"
log = logging.getLogger("holdout.errors")


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.headers = headers or {}
        self.extra = extra


def problem_response(status: int, detail: str, title: str | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)


def _flatten(messages: Any, prefix: str = "") -> list[str]:
    """Marshmallow's nested error dict as readable 'field.sub: message' lines."""
    if isinstance(messages, dict):
        out: list[str] = []
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, name))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix}: {' '.join(messages)}" if prefix else " ".join(messages)]
    if isinstance(messages, list):
        return [line for m in messages for line in _flatten(m, prefix)]
    return [f"{prefix}: {messages}" if prefix else str(messages)]


def _http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    # webargs (through flask-smorest) puts validation messages under data["messages"],
    # keyed by location (json, query, ...), which says nothing useful to a client.
    messages = data.get("messages")
    if messages:
        if isinstance(messages, dict) and len(messages) == 1:
            messages = next(iter(messages.values()))
        lines = _flatten(messages)
        return problem_response(status, "Invalid request: " + "; ".join(lines), errors=messages)
    detail = data.get("message") or exc.description or ""
    if isinstance(exc, TooManyRequests):
        detail = f"Too many requests: the limit is {exc.description}. Slow down and retry later."
    if isinstance(exc, RequestEntityTooLarge) and current_app.config.get("MAX_CONTENT_LENGTH"):
        detail = (
            f"The request body is larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes."
        )
    response = problem_response(status, detail)
    for header, value in exc.get_headers():
        if header.lower() not in ("content-type", "content-length"):
            response.headers[header] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        response = problem_response(exc.status, exc.detail, exc.title, **exc.extra)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        return _http_exception(exc)

    from sqlalchemy.exc import IntegrityError

    @app.errorhandler(IntegrityError)
    def _conflict(exc: IntegrityError) -> Response:
        # Two requests raced to create the same thing; the loser is told, nothing is lost.
        from service.models import db

        db.session.rollback()
        log.info("integrity conflict", extra={"error": str(exc.orig)[:200]})
        return problem_response(409, "A concurrent request changed the same data; try again.")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem_response(
            InternalServerError.code,
            "An unexpected error occurred; it has been logged with this request id.",
        )
