"""An assessment of the bank has questions of its own: while it is open it seals them, and their
review in every other quiz (a practice quiz's key, explanation, feedback, score and total) is
withheld from students, so `holdout bank check` (and `bank load`) refuse a bank whose assessment
shares a question with another of its quizzes, in a list or through a pool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from question_bank.check import check_bank
from question_bank.loader import BUNDLED_DIR, load_bank


def _question(slug: str, tags: list[str]) -> dict[str, Any]:
    return {
        "slug": slug,
        "type": "true_false",
        "title": slug,
        "prompt": f"Is {slug} true?",
        "explanation": "It is.",
        "tags": tags,
        "answer": True,
    }


def _bank(root: Path, *quizzes: dict[str, Any]) -> Path:
    (root / "questions").mkdir(parents=True)
    (root / "quizzes").mkdir()
    questions = [_question("q-own", ["exam-only"]), _question("q-shared", ["drill"])]
    questions.append(_question("q-drill", ["drill"]))
    (root / "questions" / "all.yaml").write_text(yaml.safe_dump({"questions": questions}))
    practice = {"slug": "drill", "title": "Drill", "practice": True, "attempt_limit": 3}
    for quiz in [practice | {"questions": ["q-shared", "q-drill"]}, *quizzes]:
        (root / "quizzes" / f"{quiz['slug']}.yaml").write_text(yaml.safe_dump(quiz))
    return root


@pytest.mark.parametrize(
    "rules", [{"attempt_limit": 2}, {"time_limit_minutes": 30}], ids=["attempts", "time-limit"]
)
def test_an_assessment_listing_a_practice_quizs_question_is_refused(
    tmp_path: Path, rules: dict[str, Any]
) -> None:
    final = {"slug": "final", "title": "Final", "questions": ["q-own", "q-shared"], **rules}
    root = _bank(tmp_path, final)
    report = check_bank(root, run_exercises=False)
    (problem,) = report.problems
    assert problem.startswith(f"{root / 'quizzes' / 'final.yaml'}: assessment 'final' shares")
    assert "practice quiz 'drill'" in problem and problem.count("q-") == 1
    assert "q-shared" in problem and "questions of its own" in problem
    assert load_bank(root).problems == [problem]  # `bank load` refuses it too


def test_a_pool_that_draws_a_practice_quizs_question_is_refused(tmp_path: Path) -> None:
    final = {
        "slug": "final",
        "title": "Final",
        "attempt_limit": 1,
        "questions": ["q-own"],
        "pools": [{"tag": "drill", "draw": 1}],
    }
    (problem,) = check_bank(_bank(tmp_path, final), run_exercises=False).problems
    assert "assessment 'final'" in problem and "q-drill, q-shared" in problem


def test_two_assessments_sharing_a_question_are_named_once(tmp_path: Path) -> None:
    exams = [
        {"slug": f"exam-{n}", "title": "Exam", "attempt_limit": 1, "questions": ["q-own"]}
        for n in (1, 2)
    ]
    (problem,) = load_bank(_bank(tmp_path, *exams)).problems
    assert "assessment 'exam-1' shares questions with assessment 'exam-2'" in problem


def test_quizzes_that_seal_nothing_may_share_questions(tmp_path: Path) -> None:
    other_practice = {"slug": "more", "title": "More", "practice": True, "time_limit_minutes": 5}
    plain = {"slug": "plain", "title": "Plain", "questions": ["q-shared"]}
    root = _bank(tmp_path, other_practice | {"questions": ["q-shared"]}, plain)
    assert check_bank(root, run_exercises=False).problems == []


def test_the_bundled_final_has_questions_of_its_own() -> None:
    bank = load_bank(BUNDLED_DIR)
    assert bank.problems == []
    (final,) = [quiz for quiz in bank.quizzes if not quiz["practice"]]
    assert final["slug"] == "regularization-final" and final["attempt_limit"] == 2
    assert len(final["questions"]) == 10
    elsewhere = {slug for quiz in bank.quizzes if quiz is not final for slug in quiz["questions"]}
    assert not set(final["questions"]) & elsewhere
    assert check_bank(BUNDLED_DIR, run_exercises=False).problems == []
