"""ordering: put the items in their correct order.

Data: `items` [{id, text}] in the correct order (at least 2). A student sees them in an order of
their own, never the correct one. Answer: {"order": [every item id, once]}. Score: the share of
items at their correct position, position by position (five items with two neighbours swapped:
3 of 5 in place, 0.6; everything shifted by one place earns nothing).
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate, validates_schema

from question_bank.qtypes._base import (
    CORRECT,
    AnswerError,
    Form,
    OrderedKeysType,
    StrictSchema,
    Verdict,
    id_field,
    only_key,
    register,
    unique_ids,
)


class Item(StrictSchema):
    id = id_field()
    text = fields.String(required=True, validate=validate.Length(min=1, max=500))


class OrderingData(StrictSchema):
    items = fields.List(fields.Nested(Item), required=True, validate=validate.Length(min=2, max=26))

    @validates_schema
    def _unique_ids(self, data: dict[str, Any], **_: Any) -> None:
        unique_ids(data.get("items", []), "item", "items")


@register
class Ordering(OrderedKeysType):
    name = "ordering"
    schema = OrderingData
    answer_help = '{"order": [every item id]} (ordering)'

    def keys(self, data: dict[str, Any]) -> list[str]:
        return [item["id"] for item in data["items"]]

    def student_view(self, data: dict[str, Any], order: list[str] | None) -> dict[str, Any]:
        texts = {item["id"]: item["text"] for item in data["items"]}
        return {"items": [{"id": i, "text": texts[i]} for i in self.shown(data, order)]}

    def check_answer(self, data: dict[str, Any], answer: Any) -> Any:
        order = only_key(answer, "order", "[every item id]")
        ids = self.keys(data)
        if (
            not isinstance(order, list)
            or not all(isinstance(i, str) for i in order)
            or sorted(order) != sorted(ids)
        ):
            raise AnswerError(f"order must list every item id once: {sorted(ids)}")
        return {"order": order}

    def grade(self, data: dict[str, Any], answer: Any) -> Verdict:
        ids = self.keys(data)
        placed = sum(given == right for given, right in zip(answer["order"], ids, strict=True))
        if placed == len(ids):
            return Verdict(1.0, CORRECT)
        return Verdict(placed / len(ids), f"{placed} of {len(ids)} items in their right place.")

    def key(self, data: dict[str, Any]) -> Any:
        return {"order": self.keys(data)}

    def form_answer(self, data: dict[str, Any], form: Form, name: str) -> Any:
        """One position select per item, `NAME-ITEMID`: none chosen is no answer; some, or the
        same position twice, is a mistake to say (422), not an answer to grade."""
        ids = self.keys(data)
        given = {i: form.get(f"{name}-{i}") or "" for i in ids}
        if not any(given.values()):
            return None
        if not all(given.values()):
            raise AnswerError("give every item a position")
        try:
            positions = {i: int(p) for i, p in given.items()}
        except ValueError as exc:
            raise AnswerError("a position must be a whole number") from exc
        if sorted(positions.values()) != list(range(1, len(ids) + 1)):
            raise AnswerError(f"give each position from 1 to {len(ids)} to exactly one item")
        return {"order": sorted(ids, key=positions.__getitem__)}
