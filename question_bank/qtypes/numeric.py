"""numeric: a number, right when `|x - answer| <= max(abs, rel * |answer|)`.

Optional `partial`: other answers, each with its own tolerance, worth a fraction (0, 1) of the
points (Moodle's 50% answers, GIFT's `%50%`); the best one that matches counts. A calculated
question computes `answer` from each student's parameter values (`answer_formula`).
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from question_bank.formula import FormulaError, evaluate, parse
from question_bank.qtypes._base import (
    CORRECT,
    AnswerError,
    QuestionType,
    StrictSchema,
    Verdict,
    finite_number,
    partial_fraction,
    partial_meta,
    register,
)
from question_bank.qtypes._variants import corners, parameters_field


class Tolerance(StrictSchema):
    abs = fields.Float(load_default=0.0, validate=validate.Range(min=0), allow_nan=False)
    rel = fields.Float(load_default=0.0, validate=validate.Range(min=0), allow_nan=False)


def tolerance_field() -> fields.Nested:
    return fields.Nested(Tolerance, load_default=lambda: {"abs": 0.0, "rel": 0.0})


class NumericPartial(StrictSchema):
    answer = fields.Float(required=True, allow_nan=False)
    tolerance = tolerance_field()
    fraction = partial_fraction()


class NumericData(StrictSchema):
    answer = fields.Float(load_default=None, allow_none=True, allow_nan=False)
    tolerance = tolerance_field()
    unit = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    # A calculated question: the answer is this formula of the student's own parameter values.
    parameters = parameters_field()
    answer_formula = fields.String(load_default=None, allow_none=True)
    Meta = partial_meta(NumericPartial)

    @validates_schema
    def _answer_or_formula(self, data: dict[str, Any], **_: Any) -> None:
        formula, params = data.get("answer_formula"), data.get("parameters") or {}
        if formula is None:
            if data.get("answer") is None:
                raise ValidationError("give an answer, or an answer_formula", "answer")
            full = _range(data["answer"], data["tolerance"])
            for entry in data.get("partial", []):
                low, high = _range(entry["answer"], entry["tolerance"])
                # Every number it accepts gets full marks: its fraction could never count.
                if full[0] <= low and high <= full[1]:
                    raise ValidationError(
                        f"partial answer {entry['answer']:g} accepts only numbers that already "
                        "get full marks",
                        "partial",
                    )
            return
        if data.get("partial"):
            raise ValidationError(
                "partial answers are fixed numbers: they cannot go with an answer_formula",
                "partial",
            )
        if not params:
            raise ValidationError("an answer_formula needs parameters", "parameters")
        try:
            parse(formula, set(params))
            # Every corner of the ranges must give an answer: a formula that divides by zero
            # for some student is refused now, not discovered in an exam.
            for corner in corners(params):
                evaluate(formula, corner)
        except FormulaError as exc:
            raise ValidationError(str(exc), "answer_formula") from exc


def _allowed(target: float, tolerance: dict[str, float]) -> float:
    return max(tolerance["abs"], tolerance["rel"] * abs(target))


def _range(target: float, tolerance: dict[str, float]) -> tuple[float, float]:
    return target - _allowed(target, tolerance), target + _allowed(target, tolerance)


def within(given: float, target: float, tolerance: dict[str, float]) -> bool:
    return abs(given - target) <= _allowed(target, tolerance)


@register
class Numeric(QuestionType):
    name = "numeric"
    schema = NumericData
    answer_help = "a number (numeric)"

    def resolve(self, data: dict[str, Any], variant: dict[str, float]) -> dict[str, Any]:
        if not data.get("answer_formula"):
            return data
        return {**data, "answer": evaluate(data["answer_formula"], variant)}

    def student_view(self, data: dict[str, Any], order: list[str] | None) -> dict[str, Any]:
        return {"unit": data.get("unit")}

    def check_answer(self, data: dict[str, Any], answer: Any) -> Any:
        return finite_number(answer)

    def grade(self, data: dict[str, Any], answer: Any) -> Verdict:
        if data["answer"] is None:
            raise AnswerError("a calculated question is graded with the student's own values")
        if within(answer, data["answer"], data["tolerance"]):
            return Verdict(1.0, CORRECT)
        shares = [
            p["fraction"]
            for p in data.get("partial", [])
            if within(answer, p["answer"], p["tolerance"])
        ]
        if shares:
            return Verdict(max(shares), f"Partly right: {max(shares):.0%} of the points.")
        return Verdict(0.0, "Not within tolerance.")

    def key(self, data: dict[str, Any]) -> Any:
        return data["answer"]

    def form_value(self, raw: str) -> Any:
        try:
            return float(raw.strip().replace(",", "."))  # a decimal comma is a decimal point
        except ValueError as exc:
            raise AnswerError(f"'{raw}' is not a number.") from exc
