"""multiple_choice: a list of choice ids.

Without fractions: `max(0, hits/C - false_ticks/W)` (C correct and W wrong choices), so ticking
every box, or none, earns nothing. With fractions (every choice has one, as Moodle and GIFT
write them): the sum of the ticked fractions, clamped to [0, 1]; the positive ones add up to 1,
so exactly the correct choices earn full marks.
"""

from __future__ import annotations

import math
from typing import Any

from marshmallow import ValidationError, validates_schema

from question_bank.qtypes._base import CORRECT, AnswerError, Form, Verdict, register
from question_bank.qtypes._choices import ChoiceData, ChoiceType, choice_ids

# Moodle writes thirds as 33.33333%: three of them fall short of 1 by 1e-7.
SUM_TOLERANCE = 1e-6


class MultipleChoiceData(ChoiceData):
    @validates_schema
    def _both_kinds(self, data: dict[str, Any], **_: Any) -> None:
        choices = data.get("choices", [])
        flags = [c["correct"] for c in choices]
        if flags and (all(flags) or not any(flags)):
            raise ValidationError(
                "needs at least one correct and at least one wrong choice", "choices"
            )
        with_fraction = [c for c in choices if "fraction" in c]
        if not with_fraction:
            return
        if len(with_fraction) != len(choices):
            raise ValidationError("give a fraction for every choice, or for none", "choices")
        for c in choices:
            if c["correct"] != (c["fraction"] > 0):
                raise ValidationError(
                    f"choice {c['id']!r}: a correct choice needs a fraction above 0, "
                    "a wrong one a fraction of 0 or below",
                    "choices",
                )
        total = sum(c["fraction"] for c in choices if c["correct"])
        if abs(total - 1.0) > SUM_TOLERANCE:
            raise ValidationError(
                f"the correct choices' fractions add up to {total:g}; they must add up to 1 "
                "so that exactly the correct choices get full marks",
                "choices",
            )


@register
class MultipleChoice(ChoiceType):
    name = "multiple_choice"
    schema = MultipleChoiceData
    answer_help = "a list of choice ids (multiple_choice)"

    def check_answer(self, data: dict[str, Any], answer: Any) -> Any:
        ids = choice_ids(data)
        if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
            raise AnswerError("answer must be a list of choice ids")
        unknown = sorted(set(answer) - ids)
        if unknown:
            raise AnswerError(f"unknown choice ids {unknown}; valid ids are {sorted(ids)}")
        if len(set(answer)) != len(answer):
            raise AnswerError("answer lists a choice id more than once")
        return sorted(answer)

    def grade(self, data: dict[str, Any], answer: Any) -> Verdict:
        choices = data["choices"]
        correct = {c["id"] for c in choices if c["correct"]}
        wrong = {c["id"] for c in choices} - correct
        ticked = set(answer)
        hits, false_ticks = len(ticked & correct), len(ticked & wrong)
        if "fraction" in choices[0]:
            total = sum(c["fraction"] for c in choices if c["id"] in ticked)
            fraction = min(1.0, max(0.0, total))
            if math.isclose(fraction, 1.0, abs_tol=SUM_TOLERANCE):
                fraction = 1.0
        else:
            fraction = max(0.0, hits / len(correct) - false_ticks / len(wrong))
        if fraction == 1.0:
            return Verdict(1.0, CORRECT)
        missed = len(correct) - hits
        return Verdict(
            fraction,
            f"{hits} of {len(correct)} correct choices ticked, {missed} missed, "
            f"{false_ticks} wrong choice(s) ticked.",
        )

    def key(self, data: dict[str, Any]) -> Any:
        return sorted(c["id"] for c in data["choices"] if c["correct"])

    def form_answer(self, data: dict[str, Any], form: Form, name: str) -> Any:
        return form.getlist(name)  # no box ticked is an answer too (worth nothing)
