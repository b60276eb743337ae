"""matching: pair each left-hand text with its right-hand text.

Data: `pairs` [{id, left, right}] (at least 2; the rights differ, so a right names one pair) and
optional `distractors`, rights that belong to no pair. A student sees the lefts (with their ids)
and every right and distractor in an order of their own, never the pairs' order. Answer:
{"matches": {pair_id: right_text}}; a pair left out counts as wrong. Score: the share of pairs
matched correctly (3 of 4 pairs: 0.75).
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from question_bank.qtypes._base import (
    CORRECT,
    AnswerError,
    Form,
    OrderedKeysType,
    StrictSchema,
    Verdict,
    id_field,
    lookup,
    only_key,
    register,
    unique_ids,
)

TEXT = validate.Length(min=1, max=500)


class Pair(StrictSchema):
    id = id_field()
    left = fields.String(required=True, validate=TEXT)
    right = fields.String(required=True, validate=TEXT)


class MatchingData(StrictSchema):
    pairs = fields.List(fields.Nested(Pair), required=True, validate=validate.Length(min=2, max=26))
    distractors = fields.List(
        fields.String(validate=TEXT), load_default=list, validate=validate.Length(max=20)
    )

    @validates_schema
    def _distinct(self, data: dict[str, Any], **_: Any) -> None:
        unique_ids(data.get("pairs", []), "pair", "pairs")
        rights = [p["right"] for p in data.get("pairs", [])] + data.get("distractors", [])
        # A student answers with a right's text: two equal texts would be one answer.
        seen: set[str] = set()
        for right in rights:
            if right in seen:
                raise ValidationError(f"the right-hand text {right!r} appears twice", "pairs")
            seen.add(right)


@register
class Matching(OrderedKeysType):
    name = "matching"
    schema = MatchingData
    answer_help = '{"matches": {pair id: right-hand text}} (matching)'

    def keys(self, data: dict[str, Any]) -> list[str]:
        return [p["right"] for p in data["pairs"]] + list(data["distractors"])

    def student_view(self, data: dict[str, Any], order: list[str] | None) -> dict[str, Any]:
        return {
            "lefts": [{"id": p["id"], "text": p["left"]} for p in data["pairs"]],
            "rights": self.shown(data, order),
        }

    def check_answer(self, data: dict[str, Any], answer: Any) -> Any:
        matches = only_key(answer, "matches", "{pair id: right-hand text}")
        if not isinstance(matches, dict):
            raise AnswerError("matches must be an object {pair id: right-hand text}")
        pairs = {p["id"]: p for p in data["pairs"]}
        options = set(self.keys(data))
        for pair_id, right in matches.items():
            lookup(pairs, pair_id, "pair id")
            if not isinstance(right, str) or right not in options:
                raise AnswerError(
                    f"pair {pair_id!r}: the answer is not one of the right-hand texts"
                )
        return {"matches": {i: matches[i] for i in pairs if i in matches}}

    def grade(self, data: dict[str, Any], answer: Any) -> Verdict:
        matches = answer["matches"]
        right = sum(matches.get(p["id"]) == p["right"] for p in data["pairs"])
        total = len(data["pairs"])
        if right == total:
            return Verdict(1.0, CORRECT)
        return Verdict(right / total, f"{right} of {total} pairs matched correctly.")

    def key(self, data: dict[str, Any]) -> Any:
        return {"matches": {p["id"]: p["right"] for p in data["pairs"]}}

    def form_answer(self, data: dict[str, Any], form: Form, name: str) -> Any:
        """One select per pair, `NAME-PAIRID`; none chosen is no answer."""
        matches = {p["id"]: form.get(f"{name}-{p['id']}") for p in data["pairs"]}
        chosen = {i: right for i, right in matches.items() if right}
        return {"matches": chosen} if chosen else None
