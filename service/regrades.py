"""Regrading a question's submissions after its tests or key changed, as a tracked job.

A regrade puts each target submission back in the queue against the question's current
version; the ordinary grading jobs (embedded or on workers) do the work, so a regrade is as
durable as any submission. Every earlier score stays in the submission's grade history.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from service.errors import Problem
from service.models import (
    JobStatus,
    Question,
    Regrade,
    Submission,
    SubmissionStatus,
    User,
    db,
    rows_changed,
    utcnow,
)


def start_regrade(
    question: Question, requested_by: User, student: User | None = None, within: Any = None
) -> Regrade:
    """Queue the question's settled submissions (of one student, or everyone's; only those
    `within` matches, when given: a course instructor's courses) again."""
    regrade = Regrade(
        question=question,
        user=student,
        requested_by_id=requested_by.id,
        question_version=question.version,
        status=JobStatus.RUNNING,
        started_at=utcnow(),
    )
    db.session.add(regrade)
    db.session.flush()
    # Submissions being graded right now are left alone: their lease holder will write them.
    targets = select(Submission.id).where(
        Submission.question_id == question.id,
        Submission.status.in_([SubmissionStatus.GRADED, SubmissionStatus.FAILED]),
    )
    if student is not None:
        targets = targets.where(Submission.user_id == student.id)
    if within is not None:
        targets = targets.where(within)
    ids = list(db.session.scalars(targets))
    regrade.total = len(ids)
    if ids:
        rows_changed(
            update(Submission)
            .where(Submission.id.in_(ids))
            .values(
                status=SubmissionStatus.QUEUED,
                question_version=question.version,
                max_score=question.points,
                regrade_id=regrade.id,
                claims=0,
                dispatched_at=None,
            )
        )
    else:
        regrade.status = JobStatus.DONE
        regrade.finished_at = utcnow()
    return regrade


def count_regraded(regrade_id: int, changed: bool) -> None:
    """One more submission of this regrade is done (called in the result's transaction)."""
    rows_changed(
        update(Regrade)
        .where(Regrade.id == regrade_id)
        .values(done=Regrade.done + 1, changed=Regrade.changed + int(changed))
    )
    rows_changed(
        update(Regrade)
        .where(Regrade.id == regrade_id, Regrade.done >= Regrade.total)
        .values(status=JobStatus.DONE, finished_at=utcnow())
    )


def override_score(submission: Submission, score: float, comment: str, by: User) -> None:
    """An instructor sets a submission's score by hand, with a reason. It goes through the grade
    writer like any grading: into the grade history (with the author and the comment), and its
    event rescores a handed-in attempt and reaches webhooks and the LMS. The caller commits."""
    from service.grades import grade_result, write_grade

    if submission.status not in (SubmissionStatus.GRADED, SubmissionStatus.FAILED):
        raise Problem(409, f"Submission {submission.id} is still being graded; override it after.")
    if not 0 <= score <= submission.max_score:
        raise Problem(422, f"The score must be between 0 and {submission.max_score:g}.")
    result = grade_result(
        SubmissionStatus.GRADED,
        score,
        submission.tests,
        submission.feedback,
        exercise_version=submission.exercise_version,
        timings=submission.timings,
        lab=submission.lab,  # an override changes the score, not what the run showed
    )
    write_grade(submission, result, late_penalty=False, graded_by_id=by.id, comment=comment)
