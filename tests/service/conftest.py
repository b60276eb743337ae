"""API test fixtures: the bundled bank in the database, a question of each type, row counts.

The `app`, `client` and token fixtures come from tests/conftest.py (each test runs on SQLite and
PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from question_bank.loader import BUNDLED_DIR, Bank, load_bank
from service.models import db
from tests.service.samples import QUESTIONS


@pytest.fixture
def bank(app: Flask) -> Bank:
    """The bundled quiz questions and quizzes, loaded as `holdout bank load` would (code exercises
    left out: they need the grader, which its own tests cover)."""
    from service.bank import load_bank_into_db

    loaded = load_bank(BUNDLED_DIR)
    assert not loaded.problems, loaded.problems
    with app.app_context():
        load_bank_into_db(loaded, [])
        db.session.commit()
    return loaded


@pytest.fixture
def questions(client: FlaskClient, instructor: dict[str, str]) -> dict[str, dict[str, Any]]:
    """One question of each quick type, created through the API; keyed by type."""
    for body in QUESTIONS.values():
        response = client.post("/api/v1/questions", json=body, headers=instructor)
        assert response.status_code == 201, response.get_json()
    return QUESTIONS


@pytest.fixture
def row_counts(app: Flask) -> Callable[[], dict[str, int]]:
    """Rows per table, to prove that a refused request wrote nothing."""

    def count() -> dict[str, int]:
        with app.app_context():
            return {
                table.name: db.session.scalar(select(func.count()).select_from(table)) or 0
                for table in db.metadata.sorted_tables
            }

    return count
