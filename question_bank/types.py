"""Question types: the shape of each type's data, what a student may see, how an answer scores.

Every type lives here once, so the bank files, the REST API and the grading of quiz answers agree.
The `code` type only validates that an exercise is attached; the grader does the grading.
"""

from __future__ import annotations

import math
import re
import sys
import unicodedata
from dataclasses import dataclass
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from grader import Exercise, SpecError
from question_bank.formula import FormulaError, draw, evaluate, parse, render

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,79}$"
TAG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
QUICK_TYPES = ("single_choice", "multiple_choice", "true_false", "numeric", "short_text")
QUESTION_TYPES = (*QUICK_TYPES, "code")

# Limits on what a student may send, so that a huge or odd answer is a 4xx, not work for us.
MAX_TEXT_ANSWER = 1000
MAX_CODE_ANSWER = 200_000


class Choice(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,16}$"))
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    correct = fields.Boolean(required=True)


class Parameter(Schema):
    """A variant's parameter: each student gets a value in [min, max] (on the step's grid)."""

    class Meta:
        unknown = RAISE

    min = fields.Float(required=True, allow_nan=False, validate=validate.Range(-1e12, 1e12))
    max = fields.Float(required=True, allow_nan=False, validate=validate.Range(-1e12, 1e12))
    step = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0))

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data["min"] > data["max"]:
            raise ValidationError("min must not be larger than max", "max")


def _parameters_field() -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_]{0,30}$")),
        values=fields.Nested(Parameter),
        load_default=dict,
        validate=validate.Length(max=10),
    )


class _ChoiceData(Schema):
    class Meta:
        unknown = RAISE

    choices = fields.List(
        fields.Nested(Choice), required=True, validate=validate.Length(min=2, max=26)
    )
    shuffle = fields.Boolean(load_default=False)
    # Choice texts (and the prompt) may show `{a}` and `{=formula}` of these parameters.
    parameters = _parameters_field()

    @validates_schema
    def _unique_ids(self, data: dict[str, Any], **_: Any) -> None:
        ids = [c["id"] for c in data.get("choices", [])]
        if len(ids) != len(set(ids)):
            raise ValidationError("choice ids must be unique", "choices")


class SingleChoiceData(_ChoiceData):
    @validates_schema
    def _one_correct(self, data: dict[str, Any], **_: Any) -> None:
        n = sum(c["correct"] for c in data.get("choices", []))
        if n != 1:
            raise ValidationError(f"exactly one choice must be correct, found {n}", "choices")


class MultipleChoiceData(_ChoiceData):
    @validates_schema
    def _both_kinds(self, data: dict[str, Any], **_: Any) -> None:
        flags = [c["correct"] for c in data.get("choices", [])]
        if flags and (all(flags) or not any(flags)):
            raise ValidationError(
                "needs at least one correct and at least one wrong choice", "choices"
            )


class TrueFalseData(Schema):
    class Meta:
        unknown = RAISE

    answer = fields.Boolean(required=True)


class Tolerance(Schema):
    class Meta:
        unknown = RAISE

    abs = fields.Float(load_default=0.0, validate=validate.Range(min=0), allow_nan=False)
    rel = fields.Float(load_default=0.0, validate=validate.Range(min=0), allow_nan=False)


class NumericData(Schema):
    class Meta:
        unknown = RAISE

    answer = fields.Float(load_default=None, allow_none=True, allow_nan=False)
    tolerance = fields.Nested(Tolerance, load_default=lambda: {"abs": 0.0, "rel": 0.0})
    unit = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    # A calculated question: the answer is this formula of the student's own parameter values.
    parameters = _parameters_field()
    answer_formula = fields.String(load_default=None, allow_none=True)

    @validates_schema
    def _answer_or_formula(self, data: dict[str, Any], **_: Any) -> None:
        formula, params = data.get("answer_formula"), data.get("parameters") or {}
        if formula is None:
            if data.get("answer") is None:
                raise ValidationError("give an answer, or an answer_formula", "answer")
            return
        if not params:
            raise ValidationError("an answer_formula needs parameters", "parameters")
        try:
            parse(formula, set(params))
            # Every corner of the ranges must give an answer: a formula that divides by zero
            # for some student is refused now, not discovered in an exam.
            for corner in _corners(params):
                evaluate(formula, corner)
        except FormulaError as exc:
            raise ValidationError(str(exc), "answer_formula") from exc


def _corners(params: dict[str, Any]) -> list[dict[str, float]]:
    corners: list[dict[str, float]] = [{}]
    for name, spec in sorted(params.items()):
        corners = [{**c, name: v} for c in corners for v in {spec["min"], spec["max"]}]
    return corners[:1024]


def _compiles(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValidationError(f"invalid regular expression {pattern!r}: {exc}") from exc


class ShortTextData(Schema):
    class Meta:
        unknown = RAISE

    accept = fields.List(fields.String(validate=validate.Length(min=1, max=200)), load_default=list)
    patterns = fields.List(
        fields.String(validate=[validate.Length(min=1, max=500), _compiles]), load_default=list
    )

    @validates_schema
    def _something_accepted(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("accept") and not data.get("patterns"):
            raise ValidationError("give at least one of accept or patterns", "accept")


class CodeData(Schema):
    """A code question carries its exercise as a dict for the grader (see grader/SPEC.md)."""

    class Meta:
        unknown = RAISE

    exercise = fields.Dict(required=True)

    @validates_schema
    def _valid_exercise(self, data: dict[str, Any], **_: Any) -> None:
        try:
            Exercise.from_dict(data.get("exercise"))
        except SpecError as exc:
            raise ValidationError(f"invalid exercise: {exc}", "exercise") from exc


DATA_SCHEMAS: dict[str, type[Schema]] = {
    "single_choice": SingleChoiceData,
    "multiple_choice": MultipleChoiceData,
    "true_false": TrueFalseData,
    "numeric": NumericData,
    "short_text": ShortTextData,
    "code": CodeData,
}


def validate_data(qtype: str, data: Any) -> dict[str, Any]:
    """Return the normalized type-specific data, or raise ValidationError naming the bad field."""
    if qtype not in DATA_SCHEMAS:
        raise ValidationError(f"unknown question type {qtype!r}", "type")
    if not isinstance(data, dict):
        raise ValidationError("must be an object", "data")
    loaded: dict[str, Any] = DATA_SCHEMAS[qtype]().load(data)
    return loaded


def consistency_problems(slug: str, qtype: str, points: float, data: dict[str, Any]) -> list[str]:
    """What makes a valid question inconsistent with itself: a code question worth other points
    than its tests add up to (its grade would be rescaled behind the feedback's back), or named
    with another slug than its exercise."""
    if qtype != "code":
        return []
    exercise = Exercise.from_dict(data["exercise"])
    problems = []
    if not math.isclose(points, exercise.max_score, rel_tol=1e-9, abs_tol=1e-9):
        problems.append(
            f"points ({points:g}) must equal the sum of the exercise's test points "
            f"({exercise.max_score:g})"
        )
    if exercise.slug != slug:
        problems.append(f"the question's slug {slug!r} is not its exercise's {exercise.slug!r}")
    return problems


def has_variants(data: dict[str, Any]) -> bool:
    return bool(data.get("parameters"))


def draw_variant(data: dict[str, Any], seed: str) -> dict[str, float] | None:
    """A student's own parameter values (stable for the same seed), or None without parameters."""
    return draw(data["parameters"], seed) if has_variants(data) else None


def resolve(qtype: str, data: dict[str, Any], variant: dict[str, Any] | None) -> dict[str, Any]:
    """The question's data as one student's variant has it: the numeric answer computed from
    their values and the choice texts filled in. Without parameters, the data as it is."""
    if not variant or not has_variants(data):
        return data
    if qtype == "numeric" and data.get("answer_formula"):
        return {**data, "answer": evaluate(data["answer_formula"], variant)}
    if qtype in ("single_choice", "multiple_choice"):
        return {
            **data,
            "choices": [{**c, "text": render(c["text"], variant)} for c in data["choices"]],
        }
    return data


def render_prompt(prompt: str, variant: dict[str, Any] | None) -> str:
    return render(prompt, variant) if variant else prompt


def correct_answer(qtype: str, data: dict[str, Any]) -> Any:
    """The answer key in the form a student answers (for the review), None for code."""
    if qtype == "single_choice":
        return next(c["id"] for c in data["choices"] if c["correct"])
    if qtype == "multiple_choice":
        return sorted(c["id"] for c in data["choices"] if c["correct"])
    if qtype in ("true_false", "numeric"):
        return data["answer"]
    if qtype == "short_text":
        return data["accept"][0] if data["accept"] else None
    return None


def student_view(
    qtype: str, data: dict[str, Any], order: list[str] | None = None
) -> dict[str, Any]:
    """The part of a question's data a student may see before answering: no keys, no tests.
    `order` is this student's order of the choice ids (a shuffled question)."""
    if qtype in ("single_choice", "multiple_choice"):
        choices = [{"id": c["id"], "text": c["text"]} for c in data["choices"]]
        if order:
            rank = {cid: i for i, cid in enumerate(order)}
            choices.sort(key=lambda c: rank.get(c["id"], len(rank)))
        return {"choices": choices}
    if qtype == "numeric":
        return {"unit": data.get("unit")}
    if qtype == "code":
        public = Exercise.from_dict(data["exercise"]).public_dict()
        return {
            "entry": public["entry"],
            "starter_code": public["starter"],
            # Visible tests in full (they are the examples); hidden ones by name and points only.
            "tests": public["tests"],
        }
    return {}


def grading_identity(qtype: str, data: dict[str, Any]) -> Any:
    """What an answer is graded against: equal identities grade every answer the same way.
    For code that is the exercise's fingerprint (tests, reference, limits), not its prose."""
    if qtype == "code":
        return (qtype, Exercise.from_dict(data["exercise"]).fingerprint)
    return (qtype, data)


@dataclass(frozen=True)
class Verdict:
    """The score of one quick answer, as a fraction of the question's points, with feedback."""

    fraction: float
    feedback: str


class AnswerError(ValueError):
    """The answer does not have the shape this question type takes (a 422, not a wrong answer)."""


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    text = re.sub(r"\s+", " ", text)
    return text.rstrip(".!").strip()


def check_answer_shape(qtype: str, data: dict[str, Any], answer: Any) -> Any:
    """Validate and normalize a student's answer for this type; raise AnswerError otherwise."""
    if qtype == "single_choice":
        ids = {c["id"] for c in data["choices"]}
        if not isinstance(answer, str) or answer not in ids:
            raise AnswerError(f"answer must be one of the choice ids {sorted(ids)}")
        return answer
    if qtype == "multiple_choice":
        ids = {c["id"] for c in data["choices"]}
        if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
            raise AnswerError("answer must be a list of choice ids")
        unknown = sorted(set(answer) - ids)
        if unknown:
            raise AnswerError(f"unknown choice ids {unknown}; valid ids are {sorted(ids)}")
        if len(set(answer)) != len(answer):
            raise AnswerError("answer lists a choice id more than once")
        return sorted(answer)
    if qtype == "true_false":
        if not isinstance(answer, bool):
            raise AnswerError("answer must be true or false")
        return answer
    if qtype == "numeric":
        # bool is an int subclass, but "true" is not a number a student meant to give.
        if isinstance(answer, bool) or not isinstance(answer, int | float):
            raise AnswerError("answer must be a number")
        # An int beyond float's range (JSON allows 400 digits) is no more finite than 1e400.
        if isinstance(answer, int) and abs(answer) > sys.float_info.max:
            raise AnswerError("answer must be a finite number")
        if not math.isfinite(answer):
            raise AnswerError("answer must be a finite number")
        return answer
    if qtype == "short_text":
        if not isinstance(answer, str):
            raise AnswerError("answer must be a string")
        if len(answer) > MAX_TEXT_ANSWER:
            raise AnswerError(f"answer is longer than {MAX_TEXT_ANSWER} characters")
        return answer
    if qtype == "code":
        if not isinstance(answer, str):
            raise AnswerError("answer must be the source code as a string")
        if len(answer) > MAX_CODE_ANSWER:
            raise AnswerError(f"source code is longer than {MAX_CODE_ANSWER} characters")
        return answer
    raise AnswerError(f"unknown question type {qtype!r}")


def grade_quick(qtype: str, data: dict[str, Any], answer: Any) -> Verdict:
    """Score an answer already passed through check_answer_shape (not for code questions)."""
    if qtype == "single_choice":
        right = next(c["id"] for c in data["choices"] if c["correct"])
        return Verdict(1.0, "Correct.") if answer == right else Verdict(0.0, "Not quite.")
    if qtype == "multiple_choice":
        correct = {c["id"] for c in data["choices"] if c["correct"]}
        wrong = {c["id"] for c in data["choices"]} - correct
        ticked = set(answer)
        hits, false_ticks = len(ticked & correct), len(ticked & wrong)
        fraction = max(0.0, hits / len(correct) - false_ticks / len(wrong))
        if fraction == 1.0:
            return Verdict(1.0, "Correct.")
        missed = len(correct) - hits
        return Verdict(
            fraction,
            f"{hits} of {len(correct)} correct choices ticked, {missed} missed, "
            f"{false_ticks} wrong choice(s) ticked.",
        )
    if qtype == "true_false":
        ok = answer == data["answer"]
        return Verdict(1.0, "Correct.") if ok else Verdict(0.0, "Not quite.")
    if qtype == "numeric":
        target, tol = data["answer"], data["tolerance"]
        if target is None:
            raise AnswerError("a calculated question is graded with the student's own values")
        allowed = max(tol["abs"], tol["rel"] * abs(target))
        ok = abs(answer - target) <= allowed
        return Verdict(1.0, "Correct.") if ok else Verdict(0.0, "Not within tolerance.")
    if qtype == "short_text":
        given = normalize_text(answer)
        ok = any(given == normalize_text(a) for a in data["accept"]) or any(
            re.fullmatch(p, given) for p in data["patterns"]
        )
        return Verdict(1.0, "Correct.") if ok else Verdict(0.0, "Not an accepted answer.")
    raise AnswerError(f"{qtype} answers are not graded at once")
