"""The data model: SQLAlchemy 2.0 typed models. Migrations in migrations/ mirror this file."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, cast

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    select,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry, relationship
from sqlalchemy.sql.base import Executable


def utcnow() -> datetime:
    return datetime.now(UTC)


def rows_changed(statement: Executable) -> int:
    """Run an UPDATE in the current session and say how many rows it changed: the basis of every
    claim and every exactly-once write here (a conditional UPDATE that either wins or does not)."""
    result = db.session.execute(statement.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned as aware UTC datetimes, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING),
        type_annotation_map={datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON},
    )


db = SQLAlchemy(model_class=Base)


class Role(enum.StrEnum):
    """A user's site role. Only `admin` manages other users' tokens and LTI platforms; an
    instructor acts in every course unless its token or session is limited to one."""

    ADMIN = "admin"
    INSTRUCTOR = "instructor"
    STUDENT = "student"
    LMS = "lms"


class CourseRole(enum.StrEnum):
    """A member's role in one course (the membership row decides what they may do there)."""

    INSTRUCTOR = "instructor"
    TEACHING_ASSISTANT = "teaching_assistant"
    STUDENT = "student"


class SubmissionStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    GRADED = "graded"
    FAILED = "failed"


class ScorePolicy(enum.StrEnum):
    BEST = "best"
    LATEST = "latest"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class AttemptStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"


class ReviewTime(enum.StrEnum):
    """When a student sees one part of an attempt's review (Moodle's and PrairieLearn's review
    options): during the attempt, once it is handed in, once the due date has passed, or never."""

    IMMEDIATELY = "immediately"
    AFTER_SUBMIT = "after_submit"
    AFTER_DUE = "after_due"
    NEVER = "never"


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings (no native PG enum): adding a value later needs no type migration.
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Course(db.Model):  # type: ignore[name-defined]
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    quizzes: Mapped[list[Quiz]] = relationship(back_populates="course", order_by="Quiz.id")


class User(db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("name", "role", name="uq_users_name_role"),)


class Enrollment(db.Model):  # type: ignore[name-defined]
    """A user's membership of a course with a role in it (see service.access). A student is
    enrolled on their first attempt there; staff through an LTI launch or the command line."""

    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[CourseRole] = mapped_column(_enum(CourseRole), default=CourseRole.STUDENT)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
    __table_args__ = (UniqueConstraint("course_id", "user_id", name="uq_enrollments_course_user"),)


class ApiToken(db.Model):  # type: ignore[name-defined]
    """A bearer token. Only its SHA-256 is stored: tokens are long random strings, so a fast hash
    is enough and lets every request find its token with one indexed lookup."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
    course: Mapped[Course | None] = relationship()


class Question(db.Model):  # type: ignore[name-defined]
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    title: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[float] = mapped_column(Float, default=1.0)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    data: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Deleting a question archives it: its submissions and their scores are never lost.
    archived_at: Mapped[datetime | None]
    # The course whose instructors author it; None: the site's shared bank (site staff only).
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), index=True
    )
    # What `bank load` last wrote (a hash of the bank's fields; None if the bank never wrote
    # it), and when an instructor last changed it: the bank never overwrites such an edit.
    bank_fingerprint: Mapped[str | None] = mapped_column(String(64))
    edited_at: Mapped[datetime | None]

    versions: Mapped[list[QuestionVersion]] = relationship(
        back_populates="question", order_by="QuestionVersion.version"
    )


class QuestionVersion(db.Model):  # type: ignore[name-defined]
    """What a question graded against at each version, so old submissions keep their meaning."""

    __tablename__ = "question_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    version: Mapped[int]
    points: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    question: Mapped[Question] = relationship(back_populates="versions")
    __table_args__ = (
        UniqueConstraint("question_id", "version", name="uq_question_versions_question_version"),
    )


class Quiz(db.Model):  # type: ignore[name-defined]
    __tablename__ = "quizzes"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    attempt_limit: Mapped[int | None]
    time_limit_minutes: Mapped[int | None]
    # Answers after due_at (and before closes_at) lose this fraction of their score.
    due_at: Mapped[datetime | None]
    late_penalty: Mapped[float] = mapped_column(Float, default=0.0)
    # Seconds a student must wait between two code submissions to the same question.
    cooldown_seconds: Mapped[int] = mapped_column(Integer, default=0)
    score_policy: Mapped[ScorePolicy] = mapped_column(_enum(ScorePolicy), default=ScorePolicy.BEST)
    # A practice quiz leaves its questions open to answer on their own; an assessment (a window,
    # an attempt or time limit) keeps them inside its attempts until it closes.
    practice: Mapped[bool] = mapped_column(default=False)
    review_score: Mapped[ReviewTime] = mapped_column(
        _enum(ReviewTime), default=ReviewTime.AFTER_SUBMIT
    )
    review_feedback: Mapped[ReviewTime] = mapped_column(
        _enum(ReviewTime), default=ReviewTime.AFTER_SUBMIT
    )
    review_correct_answer: Mapped[ReviewTime] = mapped_column(
        _enum(ReviewTime), default=ReviewTime.AFTER_SUBMIT
    )
    review_explanation: Mapped[ReviewTime] = mapped_column(
        _enum(ReviewTime), default=ReviewTime.AFTER_SUBMIT
    )
    shuffle_questions: Mapped[bool] = mapped_column(default=False)
    # [{"tag": ..., "draw": N}]: each attempt also gets N questions drawn from the tagged set.
    pools: Mapped[list[Any]] = mapped_column(default=list)
    # The tags of the pools put in by someone with authority over the shared questions they
    # draw (service.access.has_authority): only those pools let the course's staff see the
    # drawn shared questions' answer keys, and seal them for every student.
    granted_pools: Mapped[list[Any]] = mapped_column(default=list)
    bank_fingerprint: Mapped[str | None] = mapped_column(String(64))
    edited_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship(back_populates="quizzes")
    items: Mapped[list[QuizQuestion]] = relationship(
        order_by="QuizQuestion.position", cascade="all, delete-orphan"
    )


class QuizQuestion(db.Model):  # type: ignore[name-defined]
    __tablename__ = "quiz_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"))
    position: Mapped[int]
    # Whether whoever put the question in the quiz had authority over it (site staff, or the
    # staff of the question's own course): only then do the quiz's course's staff see its answer
    # keys through the quiz, and does the quiz, as an assessment, seal it for every student
    # (else only for the course's members). See service.access.has_authority.
    granted: Mapped[bool] = mapped_column(default=True)

    # A quiz's questions are read together (its page, every attempt): with its items, not one
    # query per question.
    question: Mapped[Question] = relationship(lazy="joined", innerjoin=True)
    __table_args__ = (UniqueConstraint("quiz_id", "question_id", name="uq_quiz_questions_pair"),)


class QuizAttempt(db.Model):  # type: ignore[name-defined]
    __tablename__ = "quiz_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    number: Mapped[int]
    status: Mapped[AttemptStatus] = mapped_column(
        _enum(AttemptStatus), default=AttemptStatus.IN_PROGRESS
    )
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    # Who handed it in: "student", "time" (the background loop, at the deadline).
    ended_by: Mapped[str | None] = mapped_column(String(20))
    # Drawn once at the start: {"questions": [slug, ...], "choices": {slug: [id, ...]},
    # "params": {slug: {name: value}}}, so reloads show the student the same quiz.
    layout: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    quiz: Mapped[Quiz] = relationship()
    user: Mapped[User] = relationship()
    submissions: Mapped[list[Submission]] = relationship(
        back_populates="attempt", order_by="Submission.id"
    )
    __table_args__ = (
        UniqueConstraint("quiz_id", "user_id", "number", name="uq_quiz_attempts_number"),
    )

    def question_slugs(self) -> list[str]:
        """The attempt's questions in its own order: its layout's (attempts older than layouts
        hold the quiz's fixed questions)."""
        if self.layout:
            return list(self.layout.get("questions", []))
        return [item.question.slug for item in self.quiz.items]


class QuizExtension(db.Model):  # type: ignore[name-defined]
    """One student's accommodation on one quiz: more time per attempt, a later due date."""

    __tablename__ = "quiz_extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    extra_minutes: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    quiz: Mapped[Quiz] = relationship()
    user: Mapped[User] = relationship()
    __table_args__ = (UniqueConstraint("quiz_id", "user_id", name="uq_quiz_extensions_pair"),)


class Submission(db.Model):  # type: ignore[name-defined]
    """One answer to one question, by itself or inside a quiz attempt. Never deleted."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"))
    question_version: Mapped[int]
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("quiz_attempts.id"))
    answer: Mapped[Any] = mapped_column(JSON)
    status: Mapped[SubmissionStatus] = mapped_column(_enum(SubmissionStatus))
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    tests: Mapped[list[Any]] = mapped_column(default=list)
    feedback: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    graded_at: Mapped[datetime | None]
    # Grading-job state. The row is the source of truth; a broker only carries its id.
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None]
    claims: Mapped[int] = mapped_column(Integer, default=0)
    dispatched_at: Mapped[datetime | None]
    exercise_version: Mapped[str | None] = mapped_column(String(64))
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    late_penalty: Mapped[float] = mapped_column(Float, default=0.0)
    # Set while the submission is queued again by a regrade; its next grade belongs to it.
    regrade_id: Mapped[int | None] = mapped_column(ForeignKey("regrades.id"))
    # A question with parameters: the values this student got, which its grading uses.
    variant: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A lab exercise: the training curves of its runs and their marked epochs (service.labs).
    lab: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))

    user: Mapped[User] = relationship()
    question: Mapped[Question] = relationship()
    attempt: Mapped[QuizAttempt | None] = relationship(back_populates="submissions")
    grades: Mapped[list[Grade]] = relationship(
        back_populates="submission", order_by="Grade.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_submissions_user_question", "user_id", "question_id"),
        Index("ix_submissions_attempt", "attempt_id"),
        Index("ix_submissions_status", "status"),
        Index("ix_submissions_lease", "status", "lease_expires_at"),
    )


class Grade(db.Model):  # type: ignore[name-defined]
    """Every score a submission was ever given: the first grading and each regrade."""

    __tablename__ = "grades"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    regrade_id: Mapped[int | None] = mapped_column(ForeignKey("regrades.id"))
    status: Mapped[SubmissionStatus] = mapped_column(_enum(SubmissionStatus))
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    question_version: Mapped[int]
    exercise_version: Mapped[str | None] = mapped_column(String(64))
    tests: Mapped[list[Any]] = mapped_column(default=list)
    feedback: Mapped[str] = mapped_column(Text, default="")
    graded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An instructor's override: who set the score, and why.
    graded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(Text)

    submission: Mapped[Submission] = relationship(back_populates="grades")
    __table_args__ = (Index("ix_grades_submission", "submission_id"),)


class ItemRevision(db.Model):  # type: ignore[name-defined]
    """Every state a question or quiz was saved in (by an instructor or `bank load`), so an
    edit can be looked at and restored."""

    __tablename__ = "item_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "question" or "quiz"
    item_id: Mapped[int]
    number: Mapped[int]
    fields: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(20))  # "api", "bank", "restore"
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("kind", "item_id", "number", name="uq_item_revisions_number"),
    )


class Regrade(db.Model):  # type: ignore[name-defined]
    """A tracked job that grades a question's submissions again against its current version."""

    __tablename__ = "regrades"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    question_version: Mapped[int]
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus), default=JobStatus.QUEUED)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    question: Mapped[Question] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])


class Webhook(db.Model):  # type: ignore[name-defined]
    """A course's endpoint that receives a signed event for each graded submission."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship()


class OutboxRow:
    """What every outbox table has (webhook deliveries, LMS score deliveries): something to send
    with retries, sent by the one delivery loop (service.outbox), and its log of tries."""

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus), default=JobStatus.QUEUED)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    log: Mapped[list[Any]] = mapped_column(default=list)
    next_try_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class WebhookDelivery(OutboxRow, db.Model):  # type: ignore[name-defined]
    """One event for one webhook: what was sent, how often, and what came back."""

    __tablename__ = "webhook_deliveries"

    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    event: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]]

    webhook: Mapped[Webhook] = relationship()
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_try_at"),)


def due_ids(outbox: Any, limit: int) -> list[int]:
    """Ids of an outbox's queued rows whose next try is due, oldest first. An outbox is a table
    of things sent with retries (webhook and LMS score deliveries): id, status, next_try_at."""
    ids = db.session.scalars(
        select(outbox.id)
        .where(outbox.status == JobStatus.QUEUED, outbox.next_try_at <= utcnow())
        .order_by(outbox.id)
        .limit(limit)
    ).all()
    db.session.rollback()
    return list(ids)
