"""single_choice: one choice id. Full marks for the correct choice; a wrong choice may carry
partial credit (`fraction` below 1, as Moodle's 50% answers), a negative one counts as 0."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, validates_schema

from question_bank.qtypes._base import CORRECT, AnswerError, Verdict, register
from question_bank.qtypes._choices import ChoiceData, ChoiceType, choice_fraction, choice_ids


class SingleChoiceData(ChoiceData):
    @validates_schema
    def _one_correct(self, data: dict[str, Any], **_: Any) -> None:
        choices = data.get("choices", [])
        n = sum(c["correct"] for c in choices)
        if n != 1:
            raise ValidationError(f"exactly one choice must be correct, found {n}", "choices")
        for c in choices:
            if c["correct"] and c.get("fraction", 1.0) != 1.0:
                raise ValidationError(
                    f"choice {c['id']!r} is the correct one, so its fraction must be 1 "
                    "(otherwise no answer gets full marks)",
                    "choices",
                )
            if not c["correct"] and c.get("fraction", 0.0) >= 1.0:
                raise ValidationError(
                    f"choice {c['id']!r} is wrong, so its fraction must be below 1", "choices"
                )


@register
class SingleChoice(ChoiceType):
    name = "single_choice"
    schema = SingleChoiceData
    answer_help = "a choice id (single_choice)"

    def check_answer(self, data: dict[str, Any], answer: Any) -> Any:
        ids = choice_ids(data)
        if not isinstance(answer, str) or answer not in ids:
            raise AnswerError(f"answer must be one of the choice ids {sorted(ids)}")
        return answer

    def grade(self, data: dict[str, Any], answer: Any) -> Verdict:
        chosen = next(c for c in data["choices"] if c["id"] == answer)
        fraction = max(0.0, choice_fraction(chosen))
        if fraction == 1.0:
            return Verdict(1.0, CORRECT)
        if fraction == 0.0:
            return Verdict(0.0, "Not quite.")
        return Verdict(fraction, f"Partly right: {fraction:.0%} of the points.")

    def key(self, data: dict[str, Any]) -> Any:
        return next(c["id"] for c in data["choices"] if c["correct"])
