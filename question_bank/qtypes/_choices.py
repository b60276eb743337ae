"""What single and multiple choice share: the choices, their per-student order and texts."""

from __future__ import annotations

import random
from typing import Any

from marshmallow import fields, validate, validates_schema

from question_bank.formula import render
from question_bank.qtypes._base import QuestionType, StrictSchema, id_field, in_order, unique_ids
from question_bank.qtypes._variants import parameters_field


class Choice(StrictSchema):
    id = id_field()
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    correct = fields.Boolean(required=True)
    # Partial credit (Moodle's and GIFT's per-answer grades). No default: a question written
    # without fractions keeps exactly the data it had, so loading it makes no new version.
    fraction = fields.Float(validate=validate.Range(-1, 1), allow_nan=False)


class ChoiceData(StrictSchema):
    choices = fields.List(
        fields.Nested(Choice), required=True, validate=validate.Length(min=2, max=26)
    )
    shuffle = fields.Boolean(load_default=False)
    # Choice texts (and the prompt) may show `{a}` and `{=formula}` of these parameters.
    parameters = parameters_field()

    @validates_schema
    def _unique_ids(self, data: dict[str, Any], **_: Any) -> None:
        unique_ids(data.get("choices", []), "choice", "choices")


def choice_ids(data: dict[str, Any]) -> set[str]:
    return {c["id"] for c in data["choices"]}


def choice_fraction(choice: dict[str, Any]) -> float:
    """A choice's share of the points: its own fraction, else 1 if correct and 0 if not."""
    return float(choice.get("fraction", 1.0 if choice["correct"] else 0.0))


class ChoiceType(QuestionType):
    def resolve(self, data: dict[str, Any], variant: dict[str, float]) -> dict[str, Any]:
        return {
            **data,
            "choices": [{**c, "text": render(c["text"], variant)} for c in data["choices"]],
        }

    def shuffled(self, data: dict[str, Any], seed: str) -> list[str] | None:
        if not data.get("shuffle"):
            return None
        ids = [c["id"] for c in data["choices"]]
        random.Random(seed).shuffle(ids)
        return ids

    def student_view(self, data: dict[str, Any], order: list[str] | None) -> dict[str, Any]:
        texts = {c["id"]: c["text"] for c in data["choices"]}
        return {"choices": [{"id": i, "text": texts[i]} for i in in_order(list(texts), order)]}
