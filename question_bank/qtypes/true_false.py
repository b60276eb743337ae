"""true_false: the answer is true or false."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from question_bank.qtypes._base import (
    CORRECT,
    AnswerError,
    QuestionType,
    StrictSchema,
    Verdict,
    register,
)


class TrueFalseData(StrictSchema):
    answer = fields.Boolean(required=True)


@register
class TrueFalse(QuestionType):
    name = "true_false"
    schema = TrueFalseData
    answer_help = "a boolean (true_false)"

    def check_answer(self, data: dict[str, Any], answer: Any) -> Any:
        if not isinstance(answer, bool):
            raise AnswerError("answer must be true or false")
        return answer

    def grade(self, data: dict[str, Any], answer: Any) -> Verdict:
        return Verdict(1.0, CORRECT) if answer == data["answer"] else Verdict(0.0, "Not quite.")

    def key(self, data: dict[str, Any]) -> Any:
        return data["answer"]

    def form_value(self, raw: str) -> Any:
        return raw == "true"
