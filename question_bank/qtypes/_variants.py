"""Parameters of a question with variants: each student draws their own values (formula.py)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from question_bank.qtypes._base import StrictSchema


class Parameter(StrictSchema):
    """A variant's parameter: each student gets a value in [min, max] (on the step's grid)."""

    min = fields.Float(required=True, allow_nan=False, validate=validate.Range(-1e12, 1e12))
    max = fields.Float(required=True, allow_nan=False, validate=validate.Range(-1e12, 1e12))
    step = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0))

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data["min"] > data["max"]:
            raise ValidationError("min must not be larger than max", "max")


def parameters_field() -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_]{0,30}$")),
        values=fields.Nested(Parameter),
        load_default=dict,
        validate=validate.Length(max=10),
    )


def corners(params: dict[str, Any]) -> list[dict[str, float]]:
    """Every corner of the parameters' ranges (at most 1024): where a formula is most likely to
    divide by zero or overflow."""
    found: list[dict[str, float]] = [{}]
    for name, spec in sorted(params.items()):
        found = [{**c, name: v} for c in found for v in {spec["min"], spec["max"]}]
    return found[:1024]
