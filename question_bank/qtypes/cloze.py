"""cloze: several blanks in one prompt, each a numeric, short-text or choice question of its own.

The prompt marks each blank `{{blank:ID}}` (every marker has a blank and every blank one marker).
Data: `blanks` [{id, kind: "numeric"|"short_text"|"choice", points (default 1), and the kind's
own fields}]: a numeric blank takes numeric's (answer, tolerance, unit, partial), a short_text
blank short_text's (accept, patterns, case_sensitive, partial), a choice blank single_choice's
(choices, with fractions; shuffle). Answer: {"blanks": {blank_id: value}}, each value as that
kind answers; a blank left out earns nothing. Each blank is graded by its kind's own module;
the score is sum(points * fraction) / sum(points).
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from question_bank.qtypes._base import (
    CORRECT,
    REGISTRY,
    AnswerError,
    Form,
    QuestionType,
    StrictSchema,
    Verdict,
    id_field,
    lookup,
    only_key,
    register,
    unique_ids,
)

# A blank's kind, and the type whose module validates, shows and grades it.
KINDS = {"numeric": "numeric", "short_text": "short_text", "choice": "single_choice"}
MARKER = re.compile(r"\{\{blank:([^}]*)\}\}")
OWN_FIELDS = ("id", "kind", "points")


class BlankHead(StrictSchema):
    id = id_field()
    kind = fields.String(required=True, validate=validate.OneOf(list(KINDS)))
    points = fields.Float(
        load_default=1.0, validate=validate.Range(min=0, min_inclusive=False, max=1000)
    )


def _kind(blank: dict[str, Any]) -> QuestionType:
    return REGISTRY[KINDS[blank["kind"]]]


class BlankField(fields.Field):
    """One blank: its own fields, and the rest validated by its kind's type."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError("a blank must be an object")
        head = BlankHead().load({k: v for k, v in value.items() if k in OWN_FIELDS})
        body = _kind(head).validate({k: v for k, v in value.items() if k not in OWN_FIELDS})
        # Parameters are drawn per question, and a blank is no question: keep variants out.
        if body.pop("parameters", None):
            raise ValidationError({"parameters": ["a blank cannot have parameters"]})
        return {**head, **body}


class ClozeData(StrictSchema):
    blanks = fields.List(BlankField(), required=True, validate=validate.Length(min=1, max=50))

    @validates_schema
    def _unique_ids(self, data: dict[str, Any], **_: Any) -> None:
        unique_ids(data.get("blanks", []), "blank", "blanks")


def _by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {blank["id"]: blank for blank in data["blanks"]}


@register
class Cloze(QuestionType):
    name = "cloze"
    schema = ClozeData
    answer_help = '{"blanks": {blank id: a number, text or choice id}} (cloze)'

    def problems(self, slug: str, points: float, data: dict[str, Any], prompt: str) -> list[str]:
        markers = MARKER.findall(prompt)
        ids = [blank["id"] for blank in data["blanks"]]
        problems = [f"the prompt's {{{{blank:{m}}}}} has no blank" for m in markers if m not in ids]
        problems += [
            f"blank {i!r} has no {{{{blank:{i}}}}} in the prompt" for i in ids if i not in markers
        ]
        problems += [
            f"the prompt marks blank {i!r} {markers.count(i)} times"
            for i in ids
            if markers.count(i) > 1
        ]
        return problems

    def page_prompt(self, prompt: str) -> str:
        # On a page each blank's field sits below the prompt, labelled as its marker shows.
        return MARKER.sub(lambda m: f"**[{m.group(1)}]**", prompt)

    def student_view(self, data: dict[str, Any], order: list[str] | None) -> dict[str, Any]:
        blanks = []
        for blank in data["blanks"]:
            kind = _kind(blank)
            # A choice blank's own order, the same for everyone (order is per question).
            shown = kind.student_view(blank, kind.shuffled(blank, f"blank:{blank['id']}"))
            blanks.append(
                {"id": blank["id"], "kind": blank["kind"], "points": blank["points"], **shown}
            )
        return {"blanks": blanks}

    def check_answer(self, data: dict[str, Any], answer: Any) -> Any:
        given = only_key(answer, "blanks", "{blank id: value}")
        if not isinstance(given, dict):
            raise AnswerError("blanks must be an object {blank id: value}")
        blanks = _by_id(data)
        normal = {}
        for blank_id, value in given.items():
            blank = lookup(blanks, blank_id, "blank id")
            try:
                normal[blank_id] = _kind(blank).check_answer(blank, value)
            except AnswerError as exc:
                raise AnswerError(f"blank {blank_id!r}: {exc}") from exc
        return {"blanks": {i: normal[i] for i in blanks if i in normal}}

    def grade(self, data: dict[str, Any], answer: Any) -> Verdict:
        given = answer["blanks"]
        earned = 0.0
        notes = []
        for blank in data["blanks"]:
            if blank["id"] in given:
                verdict = _kind(blank).grade(blank, given[blank["id"]])
            else:
                verdict = Verdict(0.0, "No answer.")
            earned += blank["points"] * verdict.fraction
            notes.append(f"Blank {blank['id']}: {verdict.feedback}")
        fraction = earned / sum(blank["points"] for blank in data["blanks"])
        return Verdict(1.0, CORRECT) if fraction == 1.0 else Verdict(fraction, " ".join(notes))

    def key(self, data: dict[str, Any]) -> Any:
        keys = {blank["id"]: _kind(blank).key(blank) for blank in data["blanks"]}
        # A short-text blank with only patterns has no key to show.
        return {"blanks": {i: key for i, key in keys.items() if key is not None}}

    def full_marks(self, data: dict[str, Any]) -> list[Any]:
        key = self.key(data)
        return [key] if len(key["blanks"]) == len(data["blanks"]) else []

    def form_answer(self, data: dict[str, Any], form: Form, name: str) -> Any:
        """One field per blank, `NAME-BLANKID`, read as its kind reads a field; all empty is
        no answer."""
        values = {}
        for blank in data["blanks"]:
            raw = form.get(f"{name}-{blank['id']}")
            if raw:
                try:
                    values[blank["id"]] = _kind(blank).form_value(raw)
                except AnswerError as exc:
                    raise AnswerError(f"blank {blank['id']}: {exc}") from exc
        return {"blanks": values} if values else None
