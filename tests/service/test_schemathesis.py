"""Schemathesis against /openapi.json, in process through the WSGI app, with real data loaded.

Every documented operation gets generated requests, valid and invalid ones, as an instructor and
as a student. Path parameters are drawn most of the time from rows that exist (bundled question
and quiz slugs, a real attempt and real submissions), so the runs reach past 404. No response may
be a 5xx or break the documented status codes, content types or response schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from question_bank.loader import Bank
from tests.helpers import bearer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 6}
# Webhook endpoints would send generated URLs real requests: this machine may only talk to itself.
SKIPPED_PATHS = ("webhooks",)
# Reads that must succeed at least once per role, or the run proved little (say, every request
# was refused for a broken token).
MUST_REACH = {
    "instructor": {
        "GET /api/v1/questions",
        "GET /api/v1/questions/{slug}",
        "GET /api/v1/quizzes/{slug}",
        "GET /api/v1/submissions/{submission_id}",
        "GET /api/v1/attempts/{attempt_id}",
        "GET /api/v1/courses/{slug}/gradebook",
        "GET /api/v1/tokens",
    },
    "student": {
        "GET /api/v1/questions",
        "GET /api/v1/questions/{slug}",
        "GET /api/v1/quizzes/{slug}",
        "GET /api/v1/submissions/{submission_id}",
        "GET /api/v1/attempts/{attempt_id}",
        "POST /api/v1/quizzes/{slug}/attempts",
    },
}


def _right_answer(question: dict[str, Any]) -> Any:
    data = question["data"]
    if question["type"] == "single_choice":
        return next(c["id"] for c in data["choices"] if c["correct"])
    if question["type"] == "multiple_choice":
        return [c["id"] for c in data["choices"] if c["correct"]]
    if question["type"] in ("true_false", "numeric"):
        return data["answer"]
    return (data["accept"] or ["x"])[0]


def _real_values(
    client: FlaskClient, bank: Bank, student: dict[str, str]
) -> dict[str, dict[str, list[Any]]]:
    """Per kind of path (questions, quizzes, ...) and path parameter: values naming real rows."""
    by_slug = {q["slug"]: q for q in bank.questions}
    quiz = next(q for q in bank.quizzes if all(s in by_slug for s in q["questions"]))
    submissions = []
    for slug in quiz["questions"][:3]:
        answered = client.post(
            f"/api/v1/questions/{slug}/submissions",
            json={"answer": _right_answer(by_slug[slug])},
            headers=student,
        )
        assert answered.status_code == 201, answered.get_json()
        submissions.append(answered.get_json()["id"])
    # Only now: while an attempt is open, its questions can't be answered on their own.
    attempt = client.post(f"/api/v1/quizzes/{quiz['slug']}/attempts", headers=student)
    assert attempt.status_code == 201, attempt.get_json()
    return {
        "questions": {"slug": list(by_slug)[:20]},
        "quizzes": {"slug": [q["slug"] for q in bank.quizzes]},
        "courses": {"slug": ["default"]},
        "attempts": {"attempt_id": [attempt.get_json()["id"]], "question": quiz["questions"]},
        "submissions": {"submission_id": submissions},
        "tokens": {"token_id": [10_000]},  # never the token this run authenticates with
    }


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    overrides: st.SearchStrategy[dict[str, Any]],
    headers: dict[str, str],
    reached: set[str],
) -> None:
    """Send generated requests to one operation and check every response."""

    @given(case=operation.as_strategy(generation_mode=mode), chosen=overrides)
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any, chosen: dict[str, Any]) -> None:
        for name, value in chosen.items():
            if value is not None:
                case.path_parameters[name] = value
        response = case.call(headers=headers)
        if mode == GenerationMode.POSITIVE and response.status_code < 300:
            reached.add(operation.label)
        case.validate_response(response, checks=CHECKS)

    run()


@pytest.mark.parametrize("role", ["instructor", "student"])
def test_api_conforms_to_its_openapi_document(
    app: Flask,
    client: FlaskClient,
    bank: Bank,
    token_for: Callable[..., str],
    role: str,
) -> None:
    student = bearer(token_for("student", "schemathesis-student"))
    headers = student if role == "student" else bearer(token_for("instructor", "st-prof"))
    real = _real_values(client, bank, student)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())  # type: ignore[union-attr]
        if not any(skip in operation.path for skip in SKIPPED_PATHS)
    ]
    assert len(operations) >= 25
    reached: set[str] = set()

    for operation in operations:
        kind = operation.path.split("/")[3] if operation.path.startswith("/api/v1/") else ""
        known = real.get(kind, {})
        overrides = st.fixed_dictionaries(
            {
                p.name: st.sampled_from([None, *known.get(p.name, []) * 3])
                for p in operation.path_parameters
            }
        )
        for mode in GenerationMode:
            try:
                _fuzz(operation, mode, overrides, headers, reached)
            except Unsatisfiable:
                # An operation without parameters or body has no invalid requests to make.
                assert mode == GenerationMode.NEGATIVE, operation.label

    assert MUST_REACH[role] <= reached, MUST_REACH[role] - reached
