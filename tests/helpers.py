"""Small helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

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
