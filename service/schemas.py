"""Marshmallow schemas of the REST API: what comes in, what goes out, and the OpenAPI doc."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, missing, pre_load, validate

from question_bank.loader import QuestionCommon, QuizFile
from question_bank.types import (
    ANSWER_HELP,
    QUESTION_TYPES,
    SLUG_PATTERN,
    TAG_PATTERN,
    render_prompt,
    resolve,
    student_view,
)
from service.attempts import (
    attempt_answers,
    attempt_review,
    deadline,
    question_views,
    result_review,
)
from service.auth import current_user
from service.models import Grade, Question, Quiz, QuizAttempt, Role, Submission, utcnow
from service.quizzes import (
    closes_for,
    content_hidden,
    due_for,
    is_assessment,
    quiz_max_score,
    review_settings,
    review_warnings,
    time_limit_for,
)
from service.submissions import standalone_variant

# Ids are INTEGER columns (32-bit on PostgreSQL): a larger one is invalid input, not a lookup.
MAX_ID = 2**31 - 1


def viewer_is_instructor(question: Question | None = None) -> bool:
    """Whether the caller sees answer keys: the question's authors and its courses' staff."""
    from service import access

    if question is None:
        return access.courses(access.Need.TEACH) is access.ALL
    return access.sees_answer_keys(question)


def viewer_is_staff(model: type | None = None, row: Any = None) -> bool:
    """Staff of the row's course (service.access: instructors, teaching assistants, LMS tokens)
    see every part of a review, unless they asked to see it as the student does."""
    from flask import g

    from service import access

    if g.get("as_student", False):
        return False
    staff_of = access.courses(access.Need.STAFF)
    if staff_of is access.ALL:
        return True
    if not staff_of:
        return False  # staff of no course (every student): no query needed to know it
    return model is not None and row is not None and access.allows(model, row, access.Need.STAFF)


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


class NoNulSchema(Schema):
    """Text with a NUL character is refused (422): PostgreSQL cannot store it in a text column."""

    @pre_load
    def _no_nul(self, data: Any, **_: Any) -> Any:
        if _holds_nul(data):
            raise ValidationError("Text may not contain NUL (\\u0000) characters.")
        return data


class StrictSchema(NoNulSchema):
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
        metadata={
            "description": "The user's name; created with the role if new (a name an LMS "
            "gave one of its users is refused: 409). Default: name."
        },
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


class QuestionWriteSchema(QuestionCommon, NoNulSchema):
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

    prompt = fields.Method("_prompt", required=True)
    data = fields.Method("_data", required=True)
    variant = fields.Method(
        "_variant",
        allow_none=True,
        metadata={"description": "A student's own parameter values (a question with variants)"},
    )
    explanation = fields.Method("_explanation")
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)

    def _variant(self, question: Question) -> dict[str, Any] | None:
        if viewer_is_instructor() or current_user().role != Role.STUDENT:
            return None
        return standalone_variant(current_user(), question)

    def _prompt(self, question: Question) -> str:
        return render_prompt(question.prompt, self._variant(question))

    def _data(self, question: Question) -> dict[str, Any]:
        if viewer_is_instructor(question):
            return question.data
        variant = self._variant(question)
        return student_view(question.type, resolve(question.type, question.data, variant))

    def _explanation(self, question: Question) -> Any:
        return question.explanation if viewer_is_instructor(question) else missing


# --- submissions ------------------------------------------------------------------------------


class AnswerSchema(StrictSchema):
    answer = fields.Raw(
        required=True,
        allow_none=False,
        metadata={"description": "By the question's type: " + ANSWER_HELP},
    )


class TestResultSchema(Schema):
    name = fields.String(required=True)
    passed = fields.Boolean(required=True)
    score = fields.Float(required=True)
    max_score = fields.Float(required=True)
    message = fields.String(required=True)
    hidden = fields.Boolean()


class LabCurveSchema(Schema):
    """One run's series, index 0 = epoch 1; null where the run had no finite value (NaN, inf)."""

    train = fields.List(fields.Float(allow_none=True), required=True)
    val = fields.List(fields.Float(allow_none=True), required=True)
    train_acc = fields.List(fields.Float(allow_none=True))
    val_acc = fields.List(fields.Float(allow_none=True))


class LabCurvesSchema(Schema):
    """A lab's runs: without regularization, with the student's pieces, with the reference's."""

    baseline = fields.Nested(LabCurveSchema)
    yours = fields.Nested(LabCurveSchema)
    reference = fields.Nested(LabCurveSchema)


class LabMarksSchema(Schema):
    best = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Epoch (1-based) of the lowest validation loss"},
    )
    stopped = fields.Integer(
        allow_none=True,
        required=True,
        metadata={
            "description": "Epoch (1-based) early stopping ended the run; null: it ran to the end"
        },
    )


class LabEpochsSchema(Schema):
    baseline = fields.Nested(LabMarksSchema)
    yours = fields.Nested(LabMarksSchema)
    reference = fields.Nested(LabMarksSchema)


def result_shows(s: Submission) -> dict[str, bool]:
    """What the caller sees of a submission's result (service.attempts.result_review): the one
    rule for the submission view and its grade history alike."""
    return result_review(s, viewer_is_staff(Submission, s))


class SubmissionSchema(Schema):
    """Scores, feedback and the explanation show as the quiz's review options allow."""

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

    variant = fields.Dict(
        allow_none=True,
        metadata={"description": "This student's parameter values (a question with variants)"},
    )
    curves = fields.Method(
        "_curves",
        metadata={
            "allOf": [{"$ref": "#/components/schemas/LabCurves"}],
            "description": "A lab exercise only, once graded and while its feedback is shown: "
            "training and validation loss per epoch of each run",
        },
    )
    epochs = fields.Method(
        "_epochs",
        metadata={
            "allOf": [{"$ref": "#/components/schemas/LabEpochs"}],
            "description": "A lab exercise only, with `curves`: each run's best and stopping epoch",
        },
    )

    def _score(self, s: Submission) -> float | None:
        return s.score if result_shows(s)["score"] else None

    def _tests(self, s: Submission) -> list[Any]:
        return s.tests if result_shows(s)["feedback"] else []

    def _feedback(self, s: Submission) -> str:
        return s.feedback if result_shows(s)["feedback"] else ""

    def _explanation(self, s: Submission) -> str | None:
        shown = result_shows(s)["explanation"]
        return s.question.explanation if shown and s.graded_at else None

    # A lab's curves are feedback: shown with the per-test results, absent while hidden.
    def _curves(self, s: Submission) -> Any:
        return s.lab["curves"] if s.lab and result_shows(s)["feedback"] else missing

    def _epochs(self, s: Submission) -> Any:
        return s.lab["epochs"] if s.lab and result_shows(s)["feedback"] else missing


class WaitArgs(StrictSchema):
    wait = fields.Float(
        load_default=0.0,
        validate=validate.Range(min=0, max=30),
        metadata={"description": "Seconds to wait for grading to finish (long poll), 0-30"},
    )


class SubmissionListArgs(PageArgs):
    question = fields.String(validate=validate.Regexp(SLUG_PATTERN))
    user = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


# --- quizzes and attempts ---------------------------------------------------------------------


class UtcDateTime(fields.AwareDateTime):
    """An aware date and time, as UTC; one that has no UTC equivalent (0001-01-01T00:00+14:00
    is before year 1 in UTC) is invalid input, not an overflow later."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise ValidationError("Not a date and time that exists in UTC.") from exc


class QuizWriteSchema(QuizFile):
    """A quiz as instructors post it: the bank's quiz fields plus its time window."""

    opens_at = UtcDateTime(load_default=None, allow_none=True, default_timezone=None)
    due_at = UtcDateTime(
        load_default=None,
        allow_none=True,
        default_timezone=None,
        metadata={"description": "Answers after this lose late_penalty of their score"},
    )
    closes_at = UtcDateTime(load_default=None, allow_none=True, default_timezone=None)


class QuizListArgs(PageArgs):
    course = fields.String(validate=validate.Regexp(SLUG_PATTERN))


class QuizSummarySchema(Schema):
    slug = fields.String(required=True)
    title = fields.String(required=True)
    course = fields.Function(lambda q: q.course.slug, required=True)
    question_count = fields.Function(
        lambda q: len(q.items) + sum(p["draw"] for p in q.pools or []), required=True
    )
    max_score = fields.Function(quiz_max_score, required=True)
    practice = fields.Boolean(required=True)
    assessment = fields.Function(
        is_assessment,
        required=True,
        metadata={"description": "Its questions are answered only in attempts until it closes"},
    )
    review = fields.Function(
        review_settings,
        required=True,
        metadata={"description": "When students see score, feedback, correct answer, explanation"},
    )
    shuffle_questions = fields.Boolean(required=True)
    pools = fields.Raw(required=True, metadata={"description": "[{tag, draw}]"})
    opens_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    closes_at = fields.DateTime(allow_none=True)
    late_penalty = fields.Float(required=True)
    cooldown_seconds = fields.Integer(required=True)
    score_policy = fields.String(required=True)
    attempt_limit = fields.Integer(allow_none=True)
    time_limit_minutes = fields.Integer(allow_none=True)


def quiz_content_hidden(quiz: Quiz) -> str | None:
    """Why a student sees no questions here (None: they do): before the quiz opens, and in an
    assessment until it closes (they see them in their attempt instead)."""
    if viewer_is_staff(Quiz, quiz):
        return None
    if content_hidden(quiz):
        return "The quiz has not opened yet."
    if is_assessment(quiz):
        closes = closes_for(quiz, current_user().id)
        if closes is None or utcnow() < closes:
            return "An assessment: its questions are shown in your attempt."
    return None


class QuizSchema(QuizSummarySchema):
    description = fields.String(required=True)
    questions = fields.Function(
        lambda quiz: (
            []
            if quiz_content_hidden(quiz)
            else QuestionSchema(many=True).dump([item.question for item in quiz.items])
        ),
        required=True,
        metadata={"type": "array", "items": {"$ref": "#/components/schemas/Question"}},
    )
    questions_hidden = fields.Function(
        quiz_content_hidden,
        allow_none=True,
        metadata={"type": "string", "nullable": True, "description": "Why no questions show"},
    )
    your_due_at = fields.Function(
        lambda q: (lambda d: d.isoformat() if d else None)(due_for(q, current_user().id)),
        allow_none=True,
        metadata={"type": "string", "format": "date-time", "nullable": True},
    )
    your_time_limit_minutes = fields.Function(
        lambda q: (lambda t: t.total_seconds() / 60 if t else None)(
            time_limit_for(q, current_user().id)
        ),
        allow_none=True,
        metadata={"type": "number", "nullable": True, "description": "With an extension"},
    )


class QuizSavedSchema(QuizSchema):
    """A quiz as its author's write returns it (create, replace, restore)."""

    warnings = fields.Function(
        review_warnings,
        required=True,
        metadata={
            "type": "array",
            "items": {"type": "string"},
            "description": "What the save costs reviews, never a refusal: an assessment's "
            "questions that other quizzes also hold show students no review there while it is "
            "open (or, for another quiz, its questions an open assessment holds show none here)",
        },
    )


class AttemptAnswerSchema(Schema):
    question = fields.String(required=True)
    answered = fields.Boolean(required=True)
    answer = fields.Raw(allow_none=True)
    score = fields.Float(allow_none=True, metadata={"description": "As the review options allow"})
    max_score = fields.Float(required=True)
    feedback = fields.String(allow_none=True)
    explanation = fields.String(allow_none=True)
    correct_answer = fields.Raw(allow_none=True)
    variant = fields.Dict(allow_none=True)


class AttemptQuestionSchema(Schema):
    """A question as this attempt shows it: the student's values filled in, choices in order."""

    slug = fields.String(required=True)
    type = fields.String(required=True)
    title = fields.String(required=True)
    points = fields.Float(required=True)
    prompt = fields.String(required=True)
    data = fields.Dict(required=True)
    variant = fields.Dict(allow_none=True)


class AttemptSchema(Schema):
    id = fields.Integer(required=True)
    quiz = fields.Function(lambda a: a.quiz.slug, required=True)
    user = fields.Nested(UserSchema, required=True)
    number = fields.Integer(required=True)
    status = fields.String(required=True)
    score = fields.Method("_score", allow_none=True)
    max_score = fields.Float(required=True)
    started_at = fields.DateTime(required=True)
    submitted_at = fields.DateTime(allow_none=True)
    ended_by = fields.String(
        allow_none=True, metadata={"description": "student, or time (handed in at the deadline)"}
    )
    due_at = fields.Function(
        lambda a: (lambda d: d.isoformat() if d else None)(due_for(a.quiz, a.user_id)),
        allow_none=True,
        metadata={"type": "string", "format": "date-time", "nullable": True},
    )
    late_penalty = fields.Function(lambda a: a.quiz.late_penalty, required=True)
    review = fields.Method(
        "_review", required=True, metadata={"description": "Which parts of the review show now"}
    )
    questions = fields.Method(
        "_questions",
        required=True,
        metadata={"type": "array", "items": {"$ref": "#/components/schemas/AttemptQuestion"}},
    )
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
        return AttemptAnswerSchema(many=True).dump(
            attempt_answers(attempt, viewer_is_staff(QuizAttempt, attempt))
        )

    def _score(self, attempt: QuizAttempt) -> float | None:
        return (
            attempt.score
            if attempt_review(attempt, viewer_is_staff(QuizAttempt, attempt))["score"]
            else None
        )

    def _review(self, attempt: QuizAttempt) -> dict[str, bool]:
        return attempt_review(attempt, viewer_is_staff(QuizAttempt, attempt))

    def _questions(self, attempt: QuizAttempt) -> Any:
        return AttemptQuestionSchema(many=True).dump(question_views(attempt))


class AttemptListArgs(PageArgs):
    user = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


# --- gradebook --------------------------------------------------------------------------------


class ShownScore(fields.Float):
    """A score as the gradebook displays it: rounded (5.6, not 5.6000000000000005)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        from service.gradebook import shown

        return super()._serialize(shown(value), attr, obj, **kwargs)


class GradebookItemSchema(Schema):
    kind = fields.String(required=True, metadata={"description": "quiz or question"})
    slug = fields.String(required=True)
    title = fields.String(required=True)
    max_score = ShownScore(required=True)
    score_policy = fields.String(allow_none=True, metadata={"description": "best or latest"})


class GradebookQuestionSchema(Schema):
    slug = fields.String(required=True)
    title = fields.String(required=True)
    max_score = fields.Float(required=True, attribute="points")


class GradebookRowSchema(Schema):
    user = fields.Nested(UserSchema, required=True)
    scores = fields.Dict(
        keys=fields.String(),
        values=ShownScore(allow_none=True),
        required=True,
        metadata={"description": "Per quiz slug, the credited attempt (best or latest)"},
    )
    question_scores = fields.Dict(
        keys=fields.String(),
        values=ShownScore(allow_none=True),
        required=True,
        metadata={
            "description": "Per question of the course's quizzes, its score in the credited "
            "attempt; null if not answered there"
        },
    )
    item_scores = fields.Dict(
        keys=fields.String(),
        values=ShownScore(allow_none=True),
        required=True,
        metadata={"description": "Per item (quiz:slug, question:slug), what counts"},
    )
    total = ShownScore(required=True)
    max_total = ShownScore(required=True)


class GradebookSchema(Schema):
    course = fields.Nested(CourseSchema, required=True)
    items = fields.List(fields.Nested(GradebookItemSchema), required=True)
    quizzes = fields.List(fields.Nested(GradebookItemSchema), required=True, attribute="quiz_items")
    questions = fields.List(fields.Nested(GradebookQuestionSchema), required=True)
    students = fields.List(fields.Nested(GradebookRowSchema), required=True)


# --- regrades, grade history, webhooks ----------------------------------------------------------


class RegradeCreateSchema(StrictSchema):
    user = fields.Integer(
        validate=validate.Range(min=1),
        metadata={"description": "Regrade only this student's submissions (default: everyone's)"},
    )


class RegradeSchema(Schema):
    id = fields.Integer(required=True)
    question = fields.Function(lambda r: r.question.slug, required=True)
    question_version = fields.Integer(required=True)
    user = fields.Integer(attribute="user_id", allow_none=True)
    status = fields.String(required=True, metadata={"description": "running, done"})
    total = fields.Integer(required=True)
    done = fields.Integer(required=True)
    changed = fields.Integer(required=True, metadata={"description": "Scores that changed"})
    progress = fields.Function(lambda r: 1.0 if r.total == 0 else r.done / r.total, required=True)
    created_at = fields.DateTime(required=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    elapsed_seconds = fields.Function(
        lambda r: (
            ((r.finished_at or utcnow()) - r.started_at).total_seconds() if r.started_at else None
        ),
        allow_none=True,
    )


class GradeSchema(Schema):
    """One score a submission was given: its first grading, then one per regrade or override.
    Its parts show as they do in the submission itself (`result_shows`): feedback and an
    override's comment only while the quiz's review options show feedback."""

    id = fields.Integer(required=True)
    regrade = fields.Integer(attribute="regrade_id", allow_none=True)
    status = fields.String(required=True)
    score = fields.Method("_score", required=True, metadata={"type": "number", "nullable": True})
    max_score = fields.Float(required=True)
    question_version = fields.Integer(required=True)
    exercise_version = fields.String(allow_none=True)
    feedback = fields.Method(
        "_feedback", required=True, metadata={"type": "string", "description": "As shown"}
    )
    graded_at = fields.DateTime(required=True)
    graded_by = fields.Integer(
        attribute="graded_by_id", allow_none=True, metadata={"description": "An override's author"}
    )
    comment = fields.Method(
        "_comment",
        allow_none=True,
        metadata={"type": "string", "nullable": True, "description": "Why it was overridden"},
    )

    def _score(self, grade: Grade) -> float | None:
        return grade.score if result_shows(grade.submission)["score"] else None

    def _feedback(self, grade: Grade) -> str:
        return grade.feedback if result_shows(grade.submission)["feedback"] else ""

    def _comment(self, grade: Grade) -> str | None:
        return grade.comment if result_shows(grade.submission)["feedback"] else None


class OverrideSchema(StrictSchema):
    score = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=0))
    comment = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class WebhookCreateSchema(StrictSchema):
    url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=2000),
    )
    secret = fields.String(
        validate=validate.Length(min=16, max=200),
        metadata={"description": "HMAC key; generated (and shown once) if left out"},
    )


class WebhookSchema(Schema):
    id = fields.Integer(required=True)
    course = fields.Function(lambda w: w.course.slug, required=True)
    url = fields.String(required=True)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class NewWebhookSchema(WebhookSchema):
    secret = fields.String(required=True, metadata={"description": "Shown only once"})


class WebhookDeliverySchema(Schema):
    id = fields.Integer(required=True)
    submission = fields.Integer(attribute="submission_id", required=True)
    event = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "queued, done or failed"})
    tries = fields.Integer(required=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    log = fields.List(
        fields.Dict(), required=True, metadata={"description": "Every try: at, url, status, error"}
    )
    next_try_at = fields.DateTime(required=True)
    created_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(allow_none=True)


# --- assessments: extensions, overrides, revisions, bank loads --------------------------------


class ExtensionWriteSchema(StrictSchema):
    extra_minutes = fields.Integer(
        load_default=0,
        validate=validate.Range(0, 10_000),
        metadata={"description": "Added to the quiz's time limit for this student"},
    )
    due_at = UtcDateTime(
        load_default=None,
        allow_none=True,
        default_timezone=None,
        metadata={"description": "This student's own due date (also keeps the quiz open)"},
    )


class ExtensionSchema(Schema):
    quiz = fields.Function(lambda e: e.quiz.slug, required=True)
    user = fields.Nested(UserSchema, required=True)
    extra_minutes = fields.Integer(required=True)
    due_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)


class ReviewArgs(StrictSchema):
    view = fields.String(
        load_default="staff",
        validate=validate.OneOf(["staff", "student"]),
        metadata={"description": "staff: everything; student: as the student sees it now"},
    )


class RevisionSchema(Schema):
    number = fields.Integer(required=True)
    source = fields.String(required=True, metadata={"description": "api, bank or restore"})
    author = fields.Integer(attribute="author_id", allow_none=True)
    created_at = fields.DateTime(required=True)
    saved = fields.Dict(
        required=True,
        attribute="fields",
        data_key="fields",
        metadata={"description": "The item as it was saved"},
    )


class ImportFormSchema(StrictSchema):
    format = fields.String(
        load_default="auto",
        validate=validate.OneOf(["auto", "moodle-xml", "gift", "qti"]),
        metadata={"description": "The file's format; auto tells them apart"},
    )


class ImportFileSchema(Schema):
    file = fields.Raw(
        required=True,
        metadata={"type": "string", "format": "binary", "description": "Moodle XML, GIFT or QTI"},
    )


class ImportedSchema(Schema):
    slug = fields.String()
    type = fields.String()
    title = fields.String()


class RefusedSchema(Schema):
    name = fields.String()
    reason = fields.String()


class ImportFileResultSchema(Schema):
    path = fields.String()
    format = fields.String(allow_none=True)
    imported = fields.List(fields.Nested(ImportedSchema))
    refused = fields.List(fields.Nested(RefusedSchema))


class ImportReportSchema(Schema):
    files = fields.List(fields.Nested(ImportFileResultSchema))


class ExportArgs(StrictSchema):
    format = fields.String(required=True, validate=validate.OneOf(["moodle-xml", "qti"]))
