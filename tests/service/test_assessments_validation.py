"""Inconsistent exercises are refused with a clear message: points that are not the tests' sum,
a question slug that is not its exercise's."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from question_bank.check import exercise_questions
from question_bank.loader import BUNDLED_DIR, Bank
from tests.helpers import assert_problem

DROPOUT = BUNDLED_DIR / "exercises" / "dropout"


def dropout_question() -> dict[str, Any]:
    questions, problems = exercise_questions(Bank(exercise_dirs={"dropout": DROPOUT}))
    assert not problems
    return dict(questions[0])


def test_the_api_refuses_points_other_than_the_tests_sum(
    client: FlaskClient, instructor: dict[str, str]
) -> None:
    body = dropout_question()
    total = body["points"]
    body["points"] = total + 6
    refused = client.post("/api/v1/questions", json=body, headers=instructor)
    assert_problem(refused, 422, f"points ({total + 6:g})", f"test points ({total:g})")
    body["points"], body["slug"] = total, "dropout-copy"
    refused = client.post("/api/v1/questions", json=body, headers=instructor)
    assert_problem(refused, 422, "'dropout-copy' is not its exercise's 'dropout'")


def test_bank_check_refuses_a_folder_named_unlike_its_exercise(tmp_path: Path) -> None:
    """The bank's question slug is its folder's name: the grader's loader already holds them
    equal (this pins it, as the API now does for posted exercises)."""
    folder = tmp_path / "exercises" / "dropout-renamed"
    shutil.copytree(DROPOUT, folder)
    _, problems = exercise_questions(Bank(exercise_dirs={"dropout-renamed": folder}))
    assert len(problems) == 1
    assert "slug 'dropout' differs from folder 'dropout-renamed'" in problems[0]
