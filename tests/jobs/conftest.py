"""Fixtures for grading-job tests: the bundled dropout exercise in the database, and answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from question_bank.check import exercise_questions
from question_bank.loader import BUNDLED_DIR, Bank
from service.models import db
from service.questions import save_question

DROPOUT_DIR = BUNDLED_DIR / "exercises" / "dropout"


def read_answer(name: str) -> str:
    """reference, or a mutant by file stem, of the dropout exercise."""
    if name == "reference":
        return (DROPOUT_DIR / "reference.py").read_text()
    return (DROPOUT_DIR / "mutants" / f"{name}.py").read_text()


def load_exercise_question(app: Flask, folder: Path = DROPOUT_DIR) -> None:
    questions, problems = exercise_questions(Bank(exercise_dirs={folder.name: folder}))
    assert not problems
    with app.app_context():
        save_question(questions[0])
        db.session.commit()


@pytest.fixture
def dropout_app(app: Flask) -> Iterator[Flask]:
    load_exercise_question(app)
    yield app
    from service.jobs import stop_embedded_executor

    stop_embedded_executor(app, timeout=20)
