"""Marshmallow schemas of the REST API: what comes in, what goes out, and the OpenAPI doc."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, missing, validate

from question_bank.loader import QuestionCommon
from question_bank.types import QUESTION_TYPES, SLUG_PATTERN, TAG_PATTERN, student_view
from service.attempts import attempt_answers, deadline, results_visible
from service.auth import current_user
from service.models import Question, QuizAttempt, Role, Submission


def viewer_is_instructor() -> bool:
    return current_user().role == Role.INSTRUCTOR


class StrictSchema(Schema):
    """Unknown fields are an error, not silently dropped: a typo should never look like success."""

    class Meta:
        unknown = RAISE


class ProblemSchema(Schema):
    type = fields.String(metadata={"example": "about:blank"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    request_id = fields.String()
    errors = fields.Raw(metadata={"description": "Per-field validation messages, if any"})


class PageArgs(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_of(item: type[Schema]) -> type[Schema]:
    """A page of items: the one shape every list endpoint answers with."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "page": fields.Integer(required=True),
            "page_size": fields.Integer(required=True),
            "total": fields.Integer(required=True),
            "pages": fields.Integer(required=True),
        },
        name=f"{item.__name__.removesuffix('Schema')}Page",
    )


# --- users and tokens -------------------------------------------------------------------------


class UserSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    role = fields.Enum(Role, by_value=True, required=True)


class TokenCreateSchema(StrictSchema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "What the token is for, e.g. 'canvas sync'"},
    )
    role = fields.Enum(Role, by_value=True, required=True)
    user = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The user's name; created with the role if new. Default: name."},
    )
    course = fields.String(
        validate=validate.Regexp(SLUG_PATTERN),
        metadata={"description": "Limit an lms token to one course's data"},
    )


class TokenSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(
        required=True, metadata={"description": "First characters, to tell apart"}
    )
    user = fields.Nested(UserSchema, required=True)
    course = fields.Function(lambda t: t.course.slug if t.course else None, allow_none=True)
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class NewTokenSchema(TokenSchema):
    token = fields.String(required=True, metadata={"description": "Shown only once"})


# --- courses ----------------------------------------------------------------------------------


class CourseCreateSchema(StrictSchema):
    slug = fields.String(required=True, validate=validate.Regexp(SLUG_PATTERN))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))


class CourseSchema(Schema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    title = fields.String(required=True)
    created_at = fields.DateTime(required=True)


# --- questions --------------------------------------------------------------------------------


class QuestionListArgs(PageArgs):
    type = fields.String(validate=validate.OneOf(QUESTION_TYPES))
    tag = fields.String(validate=validate.Regexp(TAG_PATTERN))


class QuestionWriteSchema(QuestionCommon):
    """An instructor's question: the common fields plus `data`, the type's own fields."""

    data = fields.Dict(
        required=True,
        metadata={"description": "Type-specific fields, as in question_bank/README.md"},
    )


class QuestionUpdateSchema(QuestionWriteSchema):
    slug = fields.String(validate=validate.Regexp(SLUG_PATTERN))


class QuestionSummarySchema(Schema):
    slug = fields.String(required=True)
    type = fields.String(required=True)
    title = fields.String(required=True)
    points = fields.Float(required=True)
    tags = fields.List(fields.String(), required=True)
    version = fields.Integer(required=True)


class QuestionSchema(QuestionSummarySchema):
    """A question as its viewer may see it: students get only what may be shown before
    answering; instructors also get the answer keys (`data` in full) and the explanation."""

    prompt = fields.String(required=True)
    data = fields.Method("_data", required=True)
    explanation = fields.Method("_explanation")
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)

    def _data(self, question: Question) -> dict[str, Any]:
        if viewer_is_instructor():
            return question.data
        return student_view(question.type, question.data)

    def _explanation(self, question: Question) -> Any:
        return question.explanation if viewer_is_instructor() else missing


# --- submissions ------------------------------------------------------------------------------


class AnswerSchema(StrictSchema):
    answer = fields.Raw(
        required=True,
        allow_none=False,
        metadata={
            "description": "A choice id (single_choice), a list of ids (multiple_choice), a "
            "boolean (true_false), a number (numeric), text (short_text) or source code (code)"
        },
    )


class TestResultSchema(Schema):
    name = fields.String(required=True)
    passed = fields.Boolean(required=True)
    score = fields.Float(required=True)
    max_score = fields.Float(required=True)
    message = fields.String(required=True)
    hidden = fields.Boolean()


class SubmissionSchema(Schema):
    """Scores, feedback and the explanation stay hidden while the quiz attempt is open."""

    id = fields.Integer(required=True)
    question = fields.Function(lambda s: s.question.slug, required=True)
    question_version = fields.Integer(required=True)
    user = fields.Nested(UserSchema, required=True)
    attempt = fields.Integer(attribute="attempt_id", allow_none=True)
    answer = fields.Raw(required=True)
    status = fields.String(required=True)
    score = fields.Method("_score", allow_none=True)
    max_score = fields.Float(required=True)
    tests = fields.Method(
        "_tests",
        metadata={"type": "array", "items": {"$ref": "#/components/schemas/TestResult"}},
    )
    feedback = fields.Method("_feedback")
    explanation = fields.Method(
        "_explanation", allow_none=True, metadata={"description": "Shown once graded"}
    )
    created_at = fields.DateTime(required=True)
    graded_at = fields.DateTime(allow_none=True)

    def _score(self, s: Submission) -> float | None:
        return s.score if results_visible(s) else None

    def _tests(self, s: Submission) -> list[Any]:
        return s.tests if results_visible(s) else []

    def _feedback(self, s: Submission) -> str:
        return s.feedback if results_visible(s) else ""

    def _explanation(self, s: Submission) -> str | None:
        return s.question.explanation if results_visible(s) and s.graded_at else None


class SubmissionListArgs(PageArgs):
    question = fields.String(validate=validate.Regexp(SLUG_PATTERN))
    user = fields.Integer(validate=validate.Range(min=1))


# --- quizzes and attempts ---------------------------------------------------------------------


class QuizWriteSchema(StrictSchema):
    slug = fields.String(required=True, validate=validate.Regexp(SLUG_PATTERN))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=20_000))
    course = fields.String(load_default="default", validate=validate.Regexp(SLUG_PATTERN))
    questions = fields.List(
        fields.String(validate=validate.Regexp(SLUG_PATTERN)),
        required=True,
        validate=validate.Length(min=1, max=200),
    )
    opens_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)
    closes_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)
    attempt_limit = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=1000)
    )
    time_limit_minutes = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=10_000)
    )


class QuizListArgs(PageArgs):
    course = fields.String(validate=validate.Regexp(SLUG_PATTERN))


class QuizSummarySchema(Schema):
    slug = fields.String(required=True)
    title = fields.String(required=True)
    course = fields.Function(lambda q: q.course.slug, required=True)
    question_count = fields.Function(lambda q: len(q.items), required=True)
    max_score = fields.Function(lambda q: sum(i.question.points for i in q.items), required=True)
    opens_at = fields.DateTime(allow_none=True)
    closes_at = fields.DateTime(allow_none=True)
    attempt_limit = fields.Integer(allow_none=True)
    time_limit_minutes = fields.Integer(allow_none=True)


class QuizSchema(QuizSummarySchema):
    description = fields.String(required=True)
    questions = fields.Function(
        lambda quiz: QuestionSchema(many=True).dump([item.question for item in quiz.items]),
        required=True,
        metadata={"type": "array", "items": {"$ref": "#/components/schemas/Question"}},
    )


class AttemptAnswerSchema(Schema):
    question = fields.String(required=True)
    answered = fields.Boolean(required=True)
    answer = fields.Raw(allow_none=True)
    score = fields.Float(allow_none=True, metadata={"description": "Shown once submitted"})
    max_score = fields.Float(required=True)
    feedback = fields.String(allow_none=True)
    explanation = fields.String(allow_none=True)


class AttemptSchema(Schema):
    id = fields.Integer(required=True)
    quiz = fields.Function(lambda a: a.quiz.slug, required=True)
    user = fields.Nested(UserSchema, required=True)
    number = fields.Integer(required=True)
    status = fields.String(required=True)
    score = fields.Float(allow_none=True)
    max_score = fields.Float(required=True)
    started_at = fields.DateTime(required=True)
    submitted_at = fields.DateTime(allow_none=True)
    deadline = fields.Function(
        lambda a: (lambda d: d.isoformat() if d else None)(deadline(a)),
        allow_none=True,
        metadata={"type": "string", "format": "date-time", "nullable": True},
    )
    answers = fields.Method(
        "_answers",
        required=True,
        metadata={"type": "array", "items": {"$ref": "#/components/schemas/AttemptAnswer"}},
    )

    def _answers(self, attempt: QuizAttempt) -> Any:
        return AttemptAnswerSchema(many=True).dump(attempt_answers(attempt))


class AttemptListArgs(PageArgs):
    user = fields.Integer(validate=validate.Range(min=1))


# --- gradebook --------------------------------------------------------------------------------


class GradebookQuizSchema(Schema):
    slug = fields.String(required=True)
    title = fields.String(required=True)
    max_score = fields.Float(required=True)


class GradebookRowSchema(Schema):
    user = fields.Nested(UserSchema, required=True)
    scores = fields.Dict(
        keys=fields.String(),
        values=fields.Float(allow_none=True),
        required=True,
        metadata={"description": "Best submitted attempt per quiz slug; null if none"},
    )
    total = fields.Float(required=True)
    max_total = fields.Float(required=True)


class GradebookSchema(Schema):
    course = fields.Nested(CourseSchema, required=True)
    quizzes = fields.List(fields.Nested(GradebookQuizSchema), required=True)
    students = fields.List(fields.Nested(GradebookRowSchema), required=True)
