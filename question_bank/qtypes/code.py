"""code: Python source, graded later in the sandbox against the exercise (grader/SPEC.md).
This module only checks that the exercise is valid and says what a student sees of it."""

from __future__ import annotations

import math
from typing import Any

from marshmallow import ValidationError, fields, validates_schema

from grader import Exercise, SpecError
from question_bank.qtypes._base import AnswerError, QuestionType, StrictSchema, register

MAX_CODE_ANSWER = 200_000


class CodeData(StrictSchema):
    """A code question carries its exercise as a dict for the grader."""

    exercise = fields.Dict(required=True)

    @validates_schema
    def _valid_exercise(self, data: dict[str, Any], **_: Any) -> None:
        try:
            Exercise.from_dict(data.get("exercise"))
        except SpecError as exc:
            raise ValidationError(f"invalid exercise: {exc}", "exercise") from exc


@register
class Code(QuestionType):
    name = "code"
    schema = CodeData
    answer_help = "source code (code)"
    graded_at_once = False

    def problems(self, slug: str, points: float, data: dict[str, Any], prompt: str) -> list[str]:
        """Points other than the tests add up to would rescale the grade behind the feedback's
        back; another slug than the exercise's would name two things one way."""
        exercise = Exercise.from_dict(data["exercise"])
        problems = []
        if not math.isclose(points, exercise.max_score, rel_tol=1e-9, abs_tol=1e-9):
            problems.append(
                f"points ({points:g}) must equal the sum of the exercise's test points "
                f"({exercise.max_score:g})"
            )
        if exercise.slug != slug:
            problems.append(f"the question's slug {slug!r} is not its exercise's {exercise.slug!r}")
        return problems

    def student_view(self, data: dict[str, Any], order: list[str] | None) -> dict[str, Any]:
        public = Exercise.from_dict(data["exercise"]).public_dict()
        return {
            "entry": public["entry"],
            "starter_code": public["starter"],
            # Visible tests in full (they are the examples); hidden ones by name and points only.
            "tests": public["tests"],
        }

    def check_answer(self, data: dict[str, Any], answer: Any) -> Any:
        if not isinstance(answer, str):
            raise AnswerError("answer must be the source code as a string")
        if len(answer) > MAX_CODE_ANSWER:
            raise AnswerError(f"source code is longer than {MAX_CODE_ANSWER} characters")
        return answer

    def grading_identity(self, data: dict[str, Any]) -> Any:
        # The exercise's fingerprint (tests, reference, limits), not its prose.
        return Exercise.from_dict(data["exercise"]).fingerprint
