"""Regrades after an instructor fixes a question, and each submission's grade history."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select

from service import access
from service.access import Need
from service.api.common import BEARER, Blueprint, get_by_id
from service.api.questions import question_or_404
from service.auth import current_user, require
from service.errors import Problem
from service.jobs import dispatch
from service.models import Grade, Regrade, Role, Submission, SubmissionStatus, User, db
from service.regrades import override_score, start_regrade
from service.schemas import (
    GradeSchema,
    OverrideSchema,
    RegradeCreateSchema,
    RegradeSchema,
    SubmissionSchema,
    result_shows,
)

blp = Blueprint("regrades", __name__, url_prefix="/api/v1", description="Regrades and history")


@blp.route("/questions/<slug>/regrades", methods=["POST"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.arguments(RegradeCreateSchema)
@blp.response(202, RegradeSchema)
def create_regrade(body: dict[str, Any], slug: str) -> tuple[Regrade, int, dict[str, str]]:
    """Grade a question's submissions again against its current version, for everyone or for
    one student. Follow the Location for progress; every earlier score stays in the history."""
    question = question_or_404(slug)
    access.require_regrade(question)
    student = None
    if "user" in body:
        student = get_by_id(User, body["user"])
        if student is None:
            raise Problem(422, f"No user with id {body['user']}.")
    # A course instructor regrades their courses' submissions only.
    regrade = start_regrade(
        question, current_user(), student, within=access.scoped(Submission, Need.TEACH)
    )
    db.session.commit()
    queued = db.session.scalars(
        select(Submission.id).where(
            Submission.regrade_id == regrade.id, Submission.status == SubmissionStatus.QUEUED
        )
    ).all()
    dispatch(list(queued))
    return regrade, 202, {"Location": url_for("regrades.get_regrade", regrade_id=regrade.id)}


@blp.route("/regrades/<int:regrade_id>")
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.response(200, RegradeSchema)
def get_regrade(regrade_id: int) -> Regrade:
    """A regrade's progress: how many of its submissions are done, and how many changed."""
    return access.get(Regrade, regrade_id, Need.TEACH, what="regrade")


@blp.route("/submissions/<int:submission_id>/grades")
@require()
@blp.doc(security=BEARER)
@blp.response(200, GradeSchema(many=True))
def submission_grades(submission_id: int) -> list[Grade]:
    """Every score this submission was given, oldest first (the owner and staff)."""
    submission = access.get(Submission, submission_id)
    if not result_shows(submission)["score"]:
        return []  # scores stay hidden as the quiz's review options say
    return list(submission.grades)  # each shown as the submission is (GradeSchema)


@blp.route("/submissions/<int:submission_id>/override", methods=["POST"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.arguments(OverrideSchema)
@blp.response(200, SubmissionSchema)
def override(body: dict[str, Any], submission_id: int) -> Submission:
    """Set a submission's score by hand, with a comment: kept in its grade history, counted in
    the gradebook (its attempt rescored) and sent to the LMS."""
    submission = access.get(Submission, submission_id, Need.TEACH)
    override_score(submission, body["score"], body["comment"], current_user())
    db.session.commit()
    return submission
