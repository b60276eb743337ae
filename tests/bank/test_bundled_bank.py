"""`holdout bank check` over the bundled bank, one exercise per test so the suite spreads them over
workers: every reference full marks, every mutant failing for its stated reason, every equivalent
full marks, the same verdicts on every run, and every quiz question well formed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grader import Grader, load_exercise
from question_bank.check import check_bank
from question_bank.exercise_check import check_exercise
from question_bank.loader import BUNDLED_DIR, load_bank

EXERCISES = sorted(p for p in (BUNDLED_DIR / "exercises").iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def grader() -> Iterator[Grader]:
    with Grader() as found:
        yield found


def test_the_bank_meets_the_curriculum() -> None:
    bank = load_bank(BUNDLED_DIR)
    assert not bank.problems
    assert len(bank.questions) >= 40
    assert {q["type"] for q in bank.questions} == {
        "single_choice", "multiple_choice", "true_false", "numeric", "short_text"
    }  # fmt: skip
    assert all(q["explanation"].strip() for q in bank.questions)
    assert {"dropout", "early-stopping"} <= set(bank.exercise_dirs)
    assert len(bank.exercise_dirs) >= 10
    in_quiz = {slug for quiz in bank.quizzes for slug in quiz["questions"]}
    assert {q["slug"] for q in bank.questions} <= in_quiz


def test_quiz_questions_and_exercise_files_are_well_formed() -> None:
    report = check_bank(BUNDLED_DIR, run_exercises=False)
    assert report.problems == []


@pytest.mark.parametrize("folder", EXERCISES, ids=[p.name for p in EXERCISES])
def test_each_exercise_proves_itself_in_the_sandbox(folder: Path, grader: Grader) -> None:
    exercise = load_exercise(folder)
    assert len(exercise.mutants) >= 4, "every exercise needs at least 4 known-wrong answers"
    assert exercise.equivalents, "an equivalent answer shows no test sits on a rounding boundary"
    assert check_exercise(exercise, grader, repeats=2) == []
