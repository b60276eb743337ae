"""short_text: text compared after normalization (Unicode NFKC, surrounding whitespace and
trailing `.!` removed, inner whitespace collapsed, case folded unless `case_sensitive`) with the
`accept` list, or matched whole by one of the `patterns`.

Optional `partial`: other answers, each worth a fraction (0, 1) of the points (Moodle's 80%
answers); the best one that matches counts.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from question_bank.qtypes._base import (
    CORRECT,
    QuestionType,
    StrictSchema,
    Verdict,
    bounded_text,
    partial_fraction,
    partial_meta,
    register,
)


def normalize_text(text: str, case_sensitive: bool = False) -> str:
    text = unicodedata.normalize("NFKC", text).strip()
    if not case_sensitive:
        text = text.casefold()
    text = re.sub(r"\s+", " ", text)
    return text.rstrip(".!").strip()


def _compiles(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValidationError(f"invalid regular expression {pattern!r}: {exc}") from exc


class TextPartial(StrictSchema):
    accept = fields.String(required=True, validate=validate.Length(min=1, max=200))
    fraction = partial_fraction()


class ShortTextData(StrictSchema):
    accept = fields.List(fields.String(validate=validate.Length(min=1, max=200)), load_default=list)
    patterns = fields.List(
        fields.String(validate=[validate.Length(min=1, max=500), _compiles]), load_default=list
    )
    # No default: data without it stays as it was (no new version on bank load).
    case_sensitive = fields.Boolean()
    Meta = partial_meta(TextPartial)

    @validates_schema
    def _something_accepted(self, data: dict[str, Any], **_: Any) -> None:
        # Partial answers alone could never reach full marks.
        if not data.get("accept") and not data.get("patterns"):
            raise ValidationError("give at least one of accept or patterns", "accept")
        for entry in data.get("partial", []):
            if _full_marks(data, entry["accept"]):
                raise ValidationError(
                    f"partial answer {entry['accept']!r} is already fully accepted", "partial"
                )


def _full_marks(data: dict[str, Any], answer: str) -> bool:
    case = bool(data.get("case_sensitive"))
    given = normalize_text(answer, case)
    return any(given == normalize_text(a, case) for a in data["accept"]) or any(
        re.fullmatch(p, given) for p in data["patterns"]
    )


@register
class ShortText(QuestionType):
    name = "short_text"
    schema = ShortTextData
    answer_help = "text (short_text)"

    def check_answer(self, data: dict[str, Any], answer: Any) -> Any:
        return bounded_text(answer)

    def grade(self, data: dict[str, Any], answer: Any) -> Verdict:
        if _full_marks(data, answer):
            return Verdict(1.0, CORRECT)
        case = bool(data.get("case_sensitive"))
        given = normalize_text(answer, case)
        shares = [
            p["fraction"]
            for p in data.get("partial", [])
            if given == normalize_text(p["accept"], case)
        ]
        if shares:
            return Verdict(max(shares), f"Partly right: {max(shares):.0%} of the points.")
        return Verdict(0.0, "Not an accepted answer.")

    def key(self, data: dict[str, Any]) -> Any:
        return data["accept"][0] if data["accept"] else None

    def full_marks(self, data: dict[str, Any]) -> list[Any]:
        return list(data["accept"])
