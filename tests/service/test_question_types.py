"""Every quick question type graded at once over the API: 201, the score in points, feedback."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import assert_problem
from tests.service.samples import RIGHT, WRONG


def answer(client: FlaskClient, headers: dict[str, str], slug: str, value: Any) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/questions/{slug}/submissions", json={"answer": value}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"] == f"/api/v1/submissions/{response.get_json()['id']}"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == "graded" and body["graded_at"]
    return body


def score(client: FlaskClient, headers: dict[str, str], slug: str, value: Any) -> float:
    return float(answer(client, headers, slug, value)["score"])


@pytest.mark.parametrize("slug", sorted(RIGHT))
def test_right_and_wrong_answers(
    client: FlaskClient, questions: dict[str, Any], student: dict[str, str], slug: str
) -> None:
    points = float(questions[slug].get("points", 1))
    right = answer(client, student, slug, RIGHT[slug])
    assert (right["score"], right["max_score"]) == (points, points)
    assert right["feedback"] == "Correct."
    assert right["explanation"] == questions[slug]["explanation"]
    wrong = answer(client, student, slug, WRONG[slug])
    assert (wrong["score"], wrong["max_score"]) == (0.0, points)
    assert wrong["feedback"] and wrong["feedback"] != "Correct."


@pytest.mark.parametrize(
    ("ticked", "expected"),
    [
        (["a", "b"], 4.0),  # perfect
        (["b", "a"], 4.0),  # order does not matter
        (["a", "b", "c", "d"], 0.0),  # ticking every box earns nothing
        ([], 0.0),
        (["a"], 2.0),  # one of two correct: 1/2 - 0/2
        (["a", "b", "c"], 2.0),  # 2/2 - 1/2
        (["a", "c"], 0.0),  # 1/2 - 1/2
        (["a", "c", "d"], 0.0),  # 1/2 - 2/2 is clamped at 0
    ],
)
def test_multiple_choice_partial_credit(
    client: FlaskClient,
    questions: dict[str, Any],
    student: dict[str, str],
    ticked: list[str],
    expected: float,
) -> None:
    # t-multiple: 4 points, choices a and b correct, c and d wrong.
    assert score(client, student, "t-multiple", ticked) == expected


def test_multiple_choice_feedback_counts_hits_and_false_ticks(
    client: FlaskClient, questions: dict[str, Any], student: dict[str, str]
) -> None:
    feedback = answer(client, student, "t-multiple", ["a", "c"])["feedback"]
    assert "1 of 2" in feedback and "1 wrong" in feedback


@pytest.mark.parametrize(
    ("given", "expected"),
    [(2.0, 1.0), (2, 1.0), (2.005, 1.0), (1.995, 1.0), (2.02, 0.0), (-2, 0.0)],
)
def test_numeric_absolute_tolerance(
    client: FlaskClient,
    questions: dict[str, Any],
    student: dict[str, str],
    given: float,
    expected: float,
) -> None:
    assert score(client, student, "t-numeric", given) == expected  # 2.0 +- 0.01


@pytest.mark.parametrize(
    ("given", "expected"), [(1000, 1.0), (1099, 1.0), (901.5, 1.0), (1101, 0.0), (899, 0.0)]
)
def test_numeric_relative_tolerance(
    client: FlaskClient,
    questions: dict[str, Any],
    student: dict[str, str],
    given: float,
    expected: float,
) -> None:
    assert score(client, student, "t-numeric-rel", given) == expected  # 1000 +- 10 %


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Early stopping", 1.0),
        ("  EARLY    Stopping! ", 1.0),  # normalized: case, spaces, trailing punctuation
        ("early stopping.", 1.0),
        ("early-stop", 1.0),  # by the pattern
        ("earlystopping", 1.0),
        ("stop early", 0.0),
        ("early stopping is the answer", 0.0),  # a pattern matches the whole answer
        ("", 0.0),
    ],
)
def test_short_text_normalization_and_patterns(
    client: FlaskClient,
    questions: dict[str, Any],
    student: dict[str, str],
    given: str,
    expected: float,
) -> None:
    assert score(client, student, "t-short-text", given) == expected


def test_true_false(
    client: FlaskClient, questions: dict[str, Any], student: dict[str, str]
) -> None:
    assert score(client, student, "t-true-false", True) == 1.0
    assert score(client, student, "t-true-false", False) == 0.0


@pytest.mark.parametrize(
    ("slug", "bad", "words"),
    [
        ("t-single", "z", "choice ids"),
        ("t-single", ["b"], "choice ids"),
        ("t-multiple", "a", "list"),
        ("t-multiple", ["a", "zz"], "unknown"),
        ("t-multiple", ["a", "a"], "more than once"),
        ("t-true-false", "true", "true or false"),
        ("t-true-false", 1, "true or false"),
        ("t-numeric", "2.0", "number"),
        ("t-numeric", True, "number"),
        ("t-numeric", 10**400, "finite"),
        ("t-short-text", 42, "string"),
        ("t-short-text", "x" * 1001, "longer"),
    ],
)
def test_answers_of_the_wrong_shape_are_422(
    client: FlaskClient,
    questions: dict[str, Any],
    student: dict[str, str],
    slug: str,
    bad: Any,
    words: str,
) -> None:
    response = client.post(
        f"/api/v1/questions/{slug}/submissions", json={"answer": bad}, headers=student
    )
    assert_problem(response, 422, words)
    listed = client.get("/api/v1/submissions", headers=student).get_json()
    assert listed["total"] == 0


def test_submissions_are_listed_newest_first_and_per_question(
    client: FlaskClient, questions: dict[str, Any], student: dict[str, str]
) -> None:
    first = answer(client, student, "t-single", "a")["id"]
    second = answer(client, student, "t-true-false", True)["id"]
    third = answer(client, student, "t-single", "b")["id"]
    listed = client.get("/api/v1/submissions", headers=student).get_json()
    assert [s["id"] for s in listed["items"]] == [third, second, first]
    only = client.get("/api/v1/submissions?question=t-single", headers=student).get_json()
    assert [s["id"] for s in only["items"]] == [third, first]
    shown = client.get(f"/api/v1/submissions/{third}", headers=student).get_json()
    assert {"id", "question", "status", "score", "max_score", "tests", "feedback"} <= set(shown)
    assert {"created_at", "graded_at"} <= set(shown)
    assert (shown["question"], shown["answer"], shown["score"]) == ("t-single", "b", 2.0)
