"""Question and quiz bodies shared by the API tests, one question of each quick type."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

SINGLE: dict[str, Any] = {
    "slug": "t-single",
    "type": "single_choice",
    "title": "Dropout at inference",
    "prompt": "What happens at inference with inverted dropout?",
    "explanation": "Survivors were already scaled in training.",
    "points": 2,
    "tags": ["dropout", "inference"],
    "data": {
        "choices": [
            {"id": "a", "text": "Scale by 1-p", "correct": False},
            {"id": "b", "text": "Nothing", "correct": True},
            {"id": "c", "text": "Divide by 1-p", "correct": False},
        ]
    },
}
MULTIPLE: dict[str, Any] = {
    "slug": "t-multiple",
    "type": "multiple_choice",
    "title": "Regularizers",
    "prompt": "Which of these regularize a network?",
    "explanation": "Dropout, weight decay and early stopping all regularize.",
    "points": 4,
    "tags": ["regularization"],
    "data": {
        # C = 2 correct, W = 2 wrong: a hit is worth 1/2, a false tick costs 1/2.
        "choices": [
            {"id": "a", "text": "Dropout", "correct": True},
            {"id": "b", "text": "Weight decay", "correct": True},
            {"id": "c", "text": "A larger learning rate", "correct": False},
            {"id": "d", "text": "More layers", "correct": False},
        ]
    },
}
TRUE_FALSE: dict[str, Any] = {
    "slug": "t-true-false",
    "type": "true_false",
    "title": "Batch norm in eval",
    "prompt": "Batch norm uses running statistics in eval mode.",
    "explanation": "Running mean and variance replace the batch statistics.",
    "tags": ["batch-norm"],
    "data": {"answer": True},
}
NUMERIC: dict[str, Any] = {
    "slug": "t-numeric",
    "type": "numeric",
    "title": "Survivor value",
    "prompt": "With p = 0.5, what does an activation of 1 become when kept?",
    "explanation": "Divided by 1 - p = 0.5.",
    "tags": ["dropout"],
    "data": {"answer": 2.0, "tolerance": {"abs": 0.01}, "unit": "units"},
}
NUMERIC_REL: dict[str, Any] = {
    "slug": "t-numeric-rel",
    "type": "numeric",
    "title": "Parameter count",
    "prompt": "How many parameters?",
    "explanation": "1000 within 10 percent.",
    "data": {"answer": 1000, "tolerance": {"rel": 0.1}},
}
SHORT_TEXT: dict[str, Any] = {
    "slug": "t-short-text",
    "type": "short_text",
    "title": "Name the technique",
    "prompt": "What is stopping when validation loss stops improving called?",
    "explanation": "Early stopping.",
    "tags": ["early-stopping"],
    "data": {"accept": ["Early stopping"], "patterns": [r"early[- ]?stop(ping)?"]},
}

QUESTIONS: dict[str, dict[str, Any]] = {
    q["slug"]: q for q in (SINGLE, MULTIPLE, TRUE_FALSE, NUMERIC, NUMERIC_REL, SHORT_TEXT)
}
# What a right answer to each looks like.
RIGHT: dict[str, Any] = {
    "t-single": "b",
    "t-multiple": ["a", "b"],
    "t-true-false": True,
    "t-numeric": 2.0,
    "t-numeric-rel": 1000,
    "t-short-text": "early stopping",
}
WRONG: dict[str, Any] = {
    "t-single": "a",
    "t-multiple": ["c", "d"],
    "t-true-false": False,
    "t-numeric": 3.0,
    "t-numeric-rel": 1200,
    "t-short-text": "dropout",
}
# Keys that hold answer keys in a question's data; never shown to a student.
ANSWER_KEYS = ("correct", "answer", "accept", "patterns", "tolerance", "explanation")


def quiz_body(slug: str = "t-quiz", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "slug": slug,
        "title": "Regularization check",
        "description": "Five questions.",
        "course": "reg-101",
        "questions": ["t-single", "t-multiple", "t-true-false", "t-numeric", "t-short-text"],
    }
    body.update(overrides)
    return body


QUIZZES = "/api/v1/quizzes"


def create_quiz(client: FlaskClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = client.post(QUIZZES, json=quiz_body(**overrides), headers=headers)
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def start(client: FlaskClient, headers: dict[str, str], slug: str = "t-quiz") -> Any:
    return client.post(f"{QUIZZES}/{slug}/attempts", headers=headers)


def put_answer(
    client: FlaskClient, headers: dict[str, str], attempt: int, question: str, value: Any
) -> Any:
    return client.put(
        f"/api/v1/attempts/{attempt}/answers/{question}", json={"answer": value}, headers=headers
    )
