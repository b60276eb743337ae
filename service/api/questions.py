"""Questions, and answers to single questions (submissions)."""

from __future__ import annotations

from typing import Any

from flask import Response, after_this_request, request, url_for
from marshmallow import ValidationError
from sqlalchemy import String, cast, select
from sqlalchemy.orm import load_only

from grader import Exercise, SandboxUnavailable
from question_bank.exercise_check import check_exercise
from question_bank.mutation import run_mutation
from question_bank.types import consistency_problems, graded_at_once, validate_data
from service import access
from service.access import Need
from service.api.common import BEARER, Blueprint, paginate
from service.auth import current_user, require
from service.caching import cached_get
from service.errors import Problem
from service.grading import get_grader
from service.jobs import dispatch
from service.models import Question, Quiz, Role, Submission, SubmissionStatus, db
from service.questions import archive_question, find_question, save_question
from service.quizzes import sealing_quiz
from service.revisions import record, revision, revisions
from service.schemas import (
    MAX_ID,
    AnswerSchema,
    QuestionListArgs,
    QuestionSchema,
    QuestionSummarySchema,
    QuestionUpdateSchema,
    QuestionWriteSchema,
    RevisionSchema,
    SubmissionListArgs,
    SubmissionSchema,
    WaitArgs,
    page_of,
    viewer_is_staff,
)
from service.submissions import create_submission, wait_until_settled

blp = Blueprint("questions", __name__, url_prefix="/api/v1", description="Questions and answers")


def question_or_404(slug: str, need: Need = Need.VIEW, include_archived: bool = False) -> Question:
    """The question, if the caller may see it (404) and has the need (403)."""
    question = find_question(slug, include_archived=include_archived)
    if question is None or not db.session.scalar(
        select(Question.id).where(Question.id == question.id, access.scoped(Question))
    ):
        raise Problem(404, f"No question '{slug}'.")
    access.require_on(Question, question, need)
    return question


def _validated(body: dict[str, Any]) -> dict[str, Any]:
    try:
        body["data"] = validate_data(body["type"], body["data"])
    except ValidationError as exc:
        raise Problem(
            422,
            f"Invalid data for a {body['type']} question: {exc.messages}",
            errors={"data": exc.messages},
        ) from exc
    problems = consistency_problems(
        body["slug"], body["type"], body["points"], body["data"], body["prompt"]
    )
    if problems:
        raise Problem(
            422,
            "The question contradicts itself: " + "; ".join(problems) + ".",
            errors={"data": problems},
        )
    if body["type"] == "code":
        _prove_exercise(body["data"]["exercise"])
    return body


def _prove_exercise(exercise_data: dict[str, Any]) -> None:
    """An exercise is accepted only if its reference gets full marks, each known-wrong answer
    loses points for its stated reason, and every mutant generated from the reference fails a test
    or is declared equivalent (`equivalent_mutants`), all run in the sandbox (as `holdout bank
    check` does). A survivor is refused with 422: `errors.mutation` lists it (id, operator, line,
    diff) so the instructor can add a test or declare it equivalent with a reason."""
    exercise = Exercise.from_dict(exercise_data)
    if not exercise.mutants:
        raise Problem(422, "A code exercise needs at least one mutant (a known-wrong answer).")
    try:
        grader = get_grader()
        problems = check_exercise(exercise, grader)
        mutation = None if problems else run_mutation(exercise, grader)
    except SandboxUnavailable as exc:
        raise Problem(503, f"Exercises cannot be checked right now: {exc}") from exc
    if problems:
        raise Problem(
            422,
            f"The exercise failed its own checks ({len(problems)} problem(s)): "
            + "; ".join(problems),
            errors={"exercise": problems},
        )
    if mutation is not None and mutation.problems():
        ids = ", ".join(m.id for m in mutation.survivors) or "none"
        raise Problem(
            422,
            f"{len(mutation.survivors)} mutant(s) generated from the reference pass every test "
            f"(survivors: {ids}): add a test that fails each, or declare it in "
            "equivalent_mutants with the reason it is correct.",
            errors={"exercise": mutation.problems(), "mutation": mutation.to_dict()},
        )


@blp.route("/questions")
@cached_get  # per token, for HOLDOUT_CACHE_SECONDS; see service/caching.py
@require()
@blp.doc(security=BEARER)
@blp.arguments(QuestionListArgs, location="query")
@blp.response(200, page_of(QuestionSummarySchema))
def list_questions(args: dict[str, Any]) -> dict[str, Any]:
    """All questions, by slug; filter by `type` and `tag`."""
    # Only the summary's columns: `data` (a whole exercise for code questions) and the prompt
    # would be read and decoded for nothing.
    summary = load_only(
        Question.slug,
        Question.type,
        Question.title,
        Question.points,
        Question.tags,
        Question.version,
    )
    query = (
        select(Question)
        .options(summary)
        .where(Question.archived_at.is_(None), access.scoped(Question))
        .order_by(Question.slug)
    )
    if "type" in args:
        query = query.where(Question.type == args["type"])
    if "tag" in args:
        # Tags match TAG_PATTERN (no quotes or escapes), so '"tag"' in the JSON text is exact
        # and the same query works on SQLite and PostgreSQL.
        query = query.where(cast(Question.tags, String).contains(f'"{args["tag"]}"'))
    return paginate(query, args)


@blp.route("/questions", methods=["POST"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.arguments(QuestionWriteSchema)
@blp.response(201, QuestionSchema)
def create_question(body: dict[str, Any]) -> Question:
    """Create a question (instructors). The slug must be new. A course instructor's question
    belongs to their course; a site-wide instructor's to the shared bank."""
    course_id = access.authoring_course()
    if find_question(body["slug"], include_archived=True) is not None:
        raise Problem(409, f"A question '{body['slug']}' already exists; PUT to change it.")
    question, _ = save_question(_validated(body))
    question.course_id = course_id
    record(question, "api", current_user())
    db.session.commit()
    return question


@blp.route("/questions/<slug>")
@require()
@blp.doc(security=BEARER)
@blp.response(200, QuestionSchema)
def get_question(slug: str) -> Question:
    """One question: prompt, choices, starter code. Answer keys for instructors only. A question
    of an open assessment is read in full only in an attempt (403 for students here)."""
    question = question_or_404(slug)
    sealed = sealing_quiz(question, current_user().id)
    if sealed is not None and not viewer_is_staff(Quiz, sealed):
        raise Problem(
            403,
            f"This question belongs to the assessment '{sealed.slug}': it is shown only in "
            "an attempt at that quiz until the quiz closes.",
        )
    return question


@blp.route("/questions/<slug>", methods=["PUT"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.arguments(QuestionUpdateSchema)
@blp.response(200, QuestionSchema)
def update_question(body: dict[str, Any], slug: str) -> Question:
    """Replace a question (instructors). A change to its grading makes a new version.
    Replacing an archived (deleted) question brings it back."""
    question_or_404(slug, Need.TEACH, include_archived=True)
    if body.get("slug", slug) != slug:
        raise Problem(422, "The slug in the body differs from the one in the URL.")
    question, _ = save_question(_validated({**body, "slug": slug}))
    record(question, "api", current_user())
    db.session.commit()
    return question


@blp.route("/questions/<slug>/revisions")
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.response(200, RevisionSchema(many=True))
def question_revisions(slug: str) -> list[Any]:
    """Every saved state of a question, oldest first: who saved it (an instructor, `bank load`,
    a restore) and its fields."""
    question = question_or_404(slug, include_archived=True)
    if not access.sees_answer_keys(question):  # revisions hold the answer keys
        raise Problem(403, "A question's revisions are for those who see its answer keys.")
    return revisions(question)


@blp.route("/questions/<slug>/revisions/<int:number>/restore", methods=["POST"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.response(200, QuestionSchema)
def restore_question(slug: str, number: int) -> Question:
    """Put a question back as it was at a revision (itself saved as a new revision; a change to
    its grading makes a new version, as any edit does)."""
    question = question_or_404(slug, Need.TEACH, include_archived=True)
    found = revision(question, number) if 1 <= number <= MAX_ID else None
    if found is None:
        raise Problem(404, f"Question '{slug}' has no revision {number}.")
    question, _ = save_question(_validated(dict(found.fields)))
    record(question, "restore", current_user())
    db.session.commit()
    return question


@blp.route("/questions/<slug>", methods=["DELETE"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.response(204)
def delete_question(slug: str) -> None:
    """Archive a question (instructors): it disappears from lists, its submissions stay."""
    archive_question(question_or_404(slug, Need.TEACH))
    db.session.commit()


@blp.route("/questions/<slug>/submissions", methods=["POST"])
@require()
@blp.doc(security=BEARER)
@blp.arguments(AnswerSchema)
@blp.response(201, SubmissionSchema, description="Graded at once (quiz question types)")
@blp.alt_response(202, schema=SubmissionSchema, description="Queued for grading (code)")
def submit_answer(body: dict[str, Any], slug: str) -> tuple[Submission, int, dict[str, str]]:
    """Answer one question. Code answers are graded in the background: poll the Location."""
    question = question_or_404(slug)
    submission = create_submission(current_user(), question, body["answer"])
    db.session.commit()
    dispatch([submission.id] if submission.status == SubmissionStatus.QUEUED else [])
    location = url_for("questions.get_submission", submission_id=submission.id)
    status = 201 if graded_at_once(question.type) else 202
    return submission, status, {"Location": location}


@blp.route("/submissions/<int:submission_id>")
@require()
@blp.doc(security=BEARER)
@blp.arguments(WaitArgs, location="query")
@blp.response(200, SubmissionSchema)
def get_submission(args: dict[str, Any], submission_id: int) -> Submission:
    """One submission: status, score and per-test results. Students see only their own.

    `?wait=SECONDS` (up to 30) holds the answer until the submission is graded or failed."""
    submission = access.get(Submission, submission_id)
    if request.headers.get(WAIT_CHECK_HEADER):  # the wait front counts open waits per user
        user_id = str(current_user().id)
        after_this_request(lambda response: _name_user(response, user_id))
    return wait_until_settled(submission, args["wait"])


# Set by service.waits (which drops a client's own copy); the answer names the user for it.
WAIT_CHECK_HEADER = "X-Holdout-Wait-Check"
WAIT_USER_HEADER = "X-Holdout-Wait-User"


def _name_user(response: Response, user_id: str) -> Response:
    response.headers[WAIT_USER_HEADER] = user_id
    return response


@blp.route("/submissions")
@require()
@blp.doc(security=BEARER)
@blp.arguments(SubmissionListArgs, location="query")
@blp.response(200, page_of(SubmissionSchema))
def list_submissions(args: dict[str, Any]) -> dict[str, Any]:
    """Submissions, newest first; a student's own, or anyone's for staff (filter by user)."""
    query = access.query(Submission).order_by(Submission.id.desc())
    if "user" in args:
        query = query.where(Submission.user_id == args["user"])
    if "question" in args:
        query = query.join(Question).where(Question.slug == args["question"])
    return paginate(query, args)
