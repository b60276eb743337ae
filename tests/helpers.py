"""Small helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PROBLEM_JSON = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: Any, status: int, *detail_words: str) -> dict[str, Any]:
    """The response is a problem+json document with this status whose detail names these words."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == status
    assert body["detail"]
    for word in detail_words:
        assert word.lower() in body["detail"].lower(), body["detail"]
    return body


@contextmanager
def recorded_statements(app: Any) -> Iterator[list[str]]:
    """The SQL statements the app's engine sends to the database inside the block."""
    from sqlalchemy import event

    from service.models import db

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
