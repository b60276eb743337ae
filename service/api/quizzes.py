"""Quizzes and quiz attempts: start, answer, submit, see the result."""

from __future__ import annotations

from typing import Any

from flask import g, url_for
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service import access
from service.access import Need
from service.api.common import BEARER, Blueprint, get_by_id, paginate, quiz_or_404
from service.attempts import answer_question, hand_in_if_expired, start_attempt, submit_attempt
from service.auth import current_user, require
from service.errors import Problem
from service.jobs import dispatch
from service.models import (
    Course,
    Question,
    Quiz,
    QuizAttempt,
    QuizExtension,
    Role,
    Submission,
    SubmissionStatus,
    User,
    db,
)
from service.quizzes import extension_for, pool_questions, save_quiz
from service.revisions import record, revision, revisions
from service.schemas import (
    MAX_ID,
    AnswerSchema,
    AttemptListArgs,
    AttemptSchema,
    ExtensionSchema,
    ExtensionWriteSchema,
    QuizListArgs,
    QuizSavedSchema,
    QuizSchema,
    QuizSummarySchema,
    QuizWriteSchema,
    ReviewArgs,
    RevisionSchema,
    SubmissionSchema,
    page_of,
)


def _require_course_teacher(slug: str) -> None:
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        access.require_site(Need.TEACH)  # only site staff create courses
    else:
        access.require_course(course.id, Need.TEACH)


blp = Blueprint("quizzes", __name__, url_prefix="/api/v1", description="Quizzes and attempts")


def attempt_or_404(attempt_id: int) -> QuizAttempt:
    attempt = access.get(QuizAttempt, attempt_id, what="attempt")
    settle(attempt)
    return attempt


def settle(attempt: QuizAttempt) -> None:
    """An attempt read after its deadline is handed in now (the background loop would do it
    within seconds anyway): nobody ever sees an expired attempt as open."""
    if hand_in_if_expired(attempt):
        db.session.commit()


def own_attempt_or_404(attempt_id: int) -> QuizAttempt:
    attempt = access.get(QuizAttempt, attempt_id, what="attempt")
    if attempt.user_id != current_user().id:
        raise Problem(404, f"No attempt {attempt_id} of yours.")
    return attempt


def _check_questions(body: dict[str, Any], quiz: Quiz | None = None) -> None:
    """A quiz may hold only questions its author may see (the shared bank, their course's), and
    take in only those they may add to this course (service.access.may_add): what the quiz
    already holds stays; each question newly listed, and each new pool's questions, are
    checked (422 naming them)."""
    slugs: list[str] = body["questions"]
    listed = {
        q.slug: q
        for q in db.session.scalars(
            select(Question).where(Question.slug.in_(slugs), access.scoped(Question))
        )
    }
    hidden = [slug for slug in slugs if slug not in listed]
    if hidden:
        raise Problem(422, f"Unknown question slugs: {', '.join(hidden)}.")
    course_id = db.session.scalar(select(Course.id).where(Course.slug == body["course"]))
    if quiz is not None and quiz.course.slug != body["course"]:
        quiz = None  # moved to another course: everything it holds is new there
    held = {item.question.slug for item in quiz.items} if quiz is not None else set()
    refused = [
        reason
        for slug in slugs
        if slug not in held and (reason := access.may_add(listed[slug], course_id))
    ]
    if refused:
        raise Problem(422, "These questions cannot be put in this quiz: " + " ".join(refused))
    pooled = {pool["tag"] for pool in quiz.pools or []} if quiz is not None else set()
    for pool in body.get("pools") or []:
        if pool["tag"] in pooled:
            continue
        for question in pool_questions(pool, set(slugs), course_id):
            reason = access.may_add(question, course_id)
            if reason:
                raise Problem(
                    422,
                    f"The pool tagged '{pool['tag']}' cannot be put in this quiz: it would draw "
                    f"{reason}",
                )


@blp.route("/quizzes")
@require()
@blp.doc(security=BEARER)
@blp.arguments(QuizListArgs, location="query")
@blp.response(200, page_of(QuizSummarySchema))
def list_quizzes(args: dict[str, Any]) -> dict[str, Any]:
    """All quizzes by slug; filter by `course`."""
    query = access.query(Quiz).order_by(Quiz.slug)
    if "course" in args:
        query = query.join(Course).where(Course.slug == args["course"])
    return paginate(query, args)


@blp.route("/quizzes", methods=["POST"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.arguments(QuizWriteSchema)
@blp.response(201, QuizSavedSchema)
def create_quiz(body: dict[str, Any]) -> Quiz:
    """Create a quiz from existing questions (the course's instructors); a new course is created
    only for site staff. `warnings` says which reviews its sealing withholds elsewhere."""
    _require_course_teacher(body["course"])
    _check_questions(body)
    if db.session.scalar(select(Quiz.id).where(Quiz.slug == body["slug"])) is not None:
        raise Problem(409, f"A quiz '{body['slug']}' already exists; PUT to change it.")
    quiz = save_quiz(body)
    record(quiz, "api", current_user())
    db.session.commit()
    return quiz


@blp.route("/quizzes/<slug>")
@require()
@blp.doc(security=BEARER)
@blp.response(200, QuizSchema)
def get_quiz(slug: str) -> Quiz:
    """A quiz with its questions, as a student sees them."""
    return quiz_or_404(slug)


@blp.route("/quizzes/<slug>", methods=["PUT"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.arguments(QuizWriteSchema)
@blp.response(200, QuizSavedSchema)
def update_quiz(body: dict[str, Any], slug: str) -> Quiz:
    """Replace a quiz's settings and question list (the course's instructors); `warnings` as
    for a new one."""
    current = quiz_or_404(slug, Need.TEACH)
    _require_course_teacher(body["course"])
    _check_questions(body, current)
    if body["slug"] != slug:
        raise Problem(422, "The slug in the body differs from the one in the URL.")
    quiz = save_quiz(body)
    record(quiz, "api", current_user())
    db.session.commit()
    return quiz


@blp.route("/quizzes/<slug>/revisions")
@require()
@blp.doc(security=BEARER)
@blp.response(200, RevisionSchema(many=True))
def quiz_revisions(slug: str) -> list[Any]:
    """Every saved state of a quiz, oldest first (the course's staff)."""
    return revisions(quiz_or_404(slug, Need.STAFF))


@blp.route("/quizzes/<slug>/revisions/<int:number>/restore", methods=["POST"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.response(200, QuizSavedSchema)
def restore_quiz(slug: str, number: int) -> Quiz:
    """Put a quiz back as it was at a revision (saved as a new revision)."""
    quiz = quiz_or_404(slug, Need.TEACH)
    found = revision(quiz, number) if 1 <= number <= MAX_ID else None
    if found is None:
        raise Problem(404, f"Quiz '{slug}' has no revision {number}.")
    try:
        fields = QuizWriteSchema().load(dict(found.fields))
    except ValidationError as exc:
        raise Problem(409, f"Revision {number} cannot be restored: {exc.messages}") from exc
    _require_course_teacher(fields["course"])
    _check_questions(fields, quiz)
    quiz = save_quiz(fields)
    record(quiz, "restore", current_user())
    db.session.commit()
    return quiz


@blp.route("/quizzes/<slug>/attempts", methods=["POST"])
@require(Role.STUDENT)
@blp.doc(security=BEARER)
@blp.response(201, AttemptSchema, description="A new attempt")
@blp.alt_response(200, schema=AttemptSchema, description="The attempt already in progress")
def start(slug: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Start an attempt (students), or resume the one in progress."""
    quiz = quiz_or_404(slug)
    try:
        attempt, created = start_attempt(current_user(), quiz)
        db.session.commit()
    except IntegrityError:
        # Another request started the same attempt at the same moment: resume that one.
        db.session.rollback()
        attempt, created = start_attempt(current_user(), quiz_or_404(slug))
        db.session.commit()
    location = url_for("quizzes.get_attempt", attempt_id=attempt.id)
    return attempt, (201 if created else 200), {"Location": location}


@blp.route("/quizzes/<slug>/attempts")
@require()
@blp.doc(security=BEARER)
@blp.arguments(AttemptListArgs, location="query")
@blp.response(200, page_of(AttemptSchema))
def list_attempts(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """Attempts at a quiz: a student's own, or everyone's for staff (filter by user)."""
    quiz = quiz_or_404(slug)
    query = access.query(QuizAttempt).where(QuizAttempt.quiz_id == quiz.id).order_by(QuizAttempt.id)
    if "user" in args:
        query = query.where(QuizAttempt.user_id == args["user"])
    return paginate(query, args)


@blp.route("/attempts/<int:attempt_id>")
@require()
@blp.doc(security=BEARER)
@blp.response(200, AttemptSchema)
@blp.arguments(ReviewArgs, location="query")
def get_attempt(args: dict[str, Any], attempt_id: int) -> QuizAttempt:
    """An attempt: its questions (in its order, with the student's values) and answers; scores,
    feedback, correct answers and explanations as the quiz's review options allow. Staff see
    all of it, or with `?view=student` what the student sees now."""
    attempt = attempt_or_404(attempt_id)
    g.as_student = args["view"] == "student"
    return attempt


@blp.route("/attempts/<int:attempt_id>/answers/<question>", methods=["PUT"])
@require(Role.STUDENT)
@blp.doc(security=BEARER)
@blp.arguments(AnswerSchema)
@blp.response(200, SubmissionSchema)
def answer(body: dict[str, Any], attempt_id: int, question: str) -> Submission:
    """Answer (or re-answer) a question of an attempt in progress; the last answer counts.
    Its score stays hidden until the attempt is submitted."""
    attempt = own_attempt_or_404(attempt_id)
    if hand_in_if_expired(attempt):
        db.session.commit()
    submission = answer_question(attempt, question, body["answer"])
    db.session.commit()
    dispatch([submission.id] if submission.status == SubmissionStatus.QUEUED else [])
    return submission


@blp.route("/attempts/<int:attempt_id>/submit", methods=["POST"])
@require(Role.STUDENT)
@blp.doc(security=BEARER)
@blp.response(200, AttemptSchema)
def submit(attempt_id: int) -> QuizAttempt:
    """Hand in an attempt and get its result. Submitting twice changes nothing."""
    attempt = own_attempt_or_404(attempt_id)
    if not hand_in_if_expired(attempt):
        submit_attempt(attempt)
    db.session.commit()
    return attempt


# --- extensions -----------------------------------------------------------------------------------


def _student_or_422(user_id: int) -> User:
    user = get_by_id(User, user_id)  # users are not course data: access scopes the quiz
    if user is None or user.role != Role.STUDENT:
        raise Problem(422, f"No student with id {user_id}.")
    return user


@blp.route("/quizzes/<slug>/extensions")
@require()
@blp.doc(security=BEARER)
@blp.response(200, ExtensionSchema(many=True))
def list_extensions(slug: str) -> list[QuizExtension]:
    """Students' extensions on a quiz: extra time per attempt, a later due date (the course's
    staff)."""
    quiz = quiz_or_404(slug, Need.STAFF)
    rows = db.session.scalars(
        access.query(QuizExtension, Need.STAFF)
        .where(QuizExtension.quiz_id == quiz.id)
        .order_by(QuizExtension.id)
    )
    return list(rows)


@blp.route("/quizzes/<slug>/extensions/<int:user_id>", methods=["PUT"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.arguments(ExtensionWriteSchema)
@blp.response(200, ExtensionSchema)
def put_extension(body: dict[str, Any], slug: str, user_id: int) -> QuizExtension:
    """Give one student more time per attempt and/or a later due date (replaces theirs; the
    course's instructors)."""
    quiz = quiz_or_404(slug, Need.TEACH)
    student = _student_or_422(user_id)
    if body["due_at"] is not None and quiz.opens_at and body["due_at"] <= quiz.opens_at:
        raise Problem(422, "The extended due date must be after the quiz opens.")
    extension = extension_for(quiz, student.id)
    if extension is None:
        extension = QuizExtension(quiz_id=quiz.id, user_id=student.id)
        db.session.add(extension)
    extension.extra_minutes = body["extra_minutes"]
    extension.due_at = body["due_at"]
    db.session.commit()
    return extension


@blp.route("/quizzes/<slug>/extensions/<int:user_id>", methods=["DELETE"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.response(204)
def delete_extension(slug: str, user_id: int) -> None:
    """Take a student's extension away (the course's instructors)."""
    quiz = quiz_or_404(slug, Need.TEACH)
    extension = extension_for(quiz, user_id) if 1 <= user_id <= MAX_ID else None
    if extension is None:
        raise Problem(404, f"Student {user_id} has no extension on '{slug}'.")
    db.session.delete(extension)
    db.session.commit()
