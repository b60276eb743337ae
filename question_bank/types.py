"""Question types as the rest of holdout sees them: each function asks the type's own module
(question_bank/qtypes/, one module per type) through the registry, so the bank files, the REST
API, the pages and the grading of quiz answers agree, and none of them names a type.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError

from question_bank.formula import draw, render
from question_bank.qtypes import REGISTRY, AnswerError, QuestionType, Verdict
from question_bank.qtypes._base import MAX_TEXT_ANSWER, Form
from question_bank.qtypes.code import MAX_CODE_ANSWER
from question_bank.qtypes.short_text import normalize_text

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,79}$"
TAG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
QUESTION_TYPES = tuple(REGISTRY)
QUICK_TYPES = tuple(name for name, qtype in REGISTRY.items() if qtype.graded_at_once)
ANSWER_HELP = ", ".join(qtype.answer_help for qtype in REGISTRY.values())

__all__ = [
    "MAX_CODE_ANSWER",
    "MAX_TEXT_ANSWER",
    "AnswerError",
    "Form",
    "Verdict",
    "normalize_text",
]


def get(qtype: str) -> QuestionType:
    found = REGISTRY.get(qtype)
    if found is None:
        raise AnswerError(f"unknown question type {qtype!r}")
    return found


def validate_data(qtype: str, data: Any) -> dict[str, Any]:
    """Return the normalized type-specific data, or raise ValidationError naming the bad field."""
    if qtype not in REGISTRY:
        raise ValidationError(f"unknown question type {qtype!r}", "type")
    if not isinstance(data, dict):
        raise ValidationError("must be an object", "data")
    return REGISTRY[qtype].validate(data)


def consistency_problems(
    slug: str, qtype: str, points: float, data: dict[str, Any], prompt: str = ""
) -> list[str]:
    """What makes a valid question inconsistent with itself (a code question's points against
    its tests, a cloze prompt's markers against its blanks)."""
    return get(qtype).problems(slug, points, data, prompt)


def graded_at_once(qtype: str) -> bool:
    return get(qtype).graded_at_once


def has_variants(data: dict[str, Any]) -> bool:
    return bool(data.get("parameters"))


def draw_variant(data: dict[str, Any], seed: str) -> dict[str, float] | None:
    """A student's own parameter values (stable for the same seed), or None without parameters."""
    return draw(data["parameters"], seed) if has_variants(data) else None


def resolve(qtype: str, data: dict[str, Any], variant: dict[str, Any] | None) -> dict[str, Any]:
    """The question's data as one student's variant has it (a calculated answer computed, the
    choice texts filled in). Without parameters, the data as it is."""
    if not variant or not has_variants(data):
        return data
    return get(qtype).resolve(data, variant)


def render_prompt(prompt: str, variant: dict[str, Any] | None) -> str:
    return render(prompt, variant) if variant else prompt


def shuffled(qtype: str, data: dict[str, Any], seed: str) -> list[str] | None:
    """One student's order of what the question shows in an order of its own (its choices,
    items or right-hand sides), from a seed; None when it keeps the bank's order."""
    return get(qtype).shuffled(data, seed)


def student_view(
    qtype: str, data: dict[str, Any], order: list[str] | None = None
) -> dict[str, Any]:
    """The part of a question's data a student may see before answering: no keys, no tests.
    `order` is this student's order (from shuffled())."""
    return get(qtype).student_view(data, order)


def correct_answer(qtype: str, data: dict[str, Any]) -> Any:
    """The answer key in the form a student answers (for the review), None for code."""
    return get(qtype).key(data)


def full_marks_answers(qtype: str, data: dict[str, Any]) -> list[Any]:
    """Answers that must get full marks, or the key is broken (`holdout bank check`)."""
    return get(qtype).full_marks(data)


def grading_identity(qtype: str, data: dict[str, Any]) -> Any:
    """What an answer is graded against: equal identities grade every answer the same way."""
    return (qtype, get(qtype).grading_identity(data))


def check_answer_shape(qtype: str, data: dict[str, Any], answer: Any) -> Any:
    """Validate and normalize a student's answer for this type; raise AnswerError otherwise."""
    return get(qtype).check_answer(data, answer)


def grade_quick(qtype: str, data: dict[str, Any], answer: Any) -> Verdict:
    """Score an answer already passed through check_answer_shape (not for code questions)."""
    return get(qtype).grade(data, answer)


def form_answer(qtype: str, data: dict[str, Any], form: Form, name: str) -> Any:
    """The answer a page's form holds for one question, in the API's shape (None: no answer);
    AnswerError when a field holds what no answer can be."""
    return get(qtype).form_answer(data, form, name)


def page_prompt(qtype: str, prompt: str) -> str:
    """The prompt as a page shows it (a cloze's markers become the labels of its fields)."""
    return get(qtype).page_prompt(prompt)


def template(qtype: str) -> str:
    """The type's template (macros `fields` and `shown`), for the pages."""
    return get(qtype).template
