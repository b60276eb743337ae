"""Regrading a question's submissions after its tests or key changed, as a tracked job.

A regrade puts each target submission back in the queue against the question's current
version; the ordinary grading jobs (embedded or on workers) do the work, so a regrade is as
durable as any submission. Every earlier score stays in the submission's grade history.
"""

from __future__ import annotations

from sqlalchemy import select, update

from service.errors import Problem
from service.models import (
    AttemptStatus,
    Grade,
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


def start_regrade(question: Question, requested_by: User, student: User | None = None) -> Regrade:
    """Queue the question's settled submissions (of one student, or everyone's) again."""
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


def override_score(submission: Submission, score: float, comment: str, by: User) -> Grade:
    """An instructor sets a submission's score by hand, with a reason. It joins the grade
    history like any grading, rescores a handed-in attempt, and goes to webhooks and the LMS
    in the same transaction. The caller commits."""
    from service.attempts import score_attempt
    from service.lti.ags import enqueue_for_submission
    from service.webhooks import enqueue_graded_event

    if submission.status not in (SubmissionStatus.GRADED, SubmissionStatus.FAILED):
        raise Problem(409, f"Submission {submission.id} is still being graded; override it after.")
    if not 0 <= score <= submission.max_score:
        raise Problem(422, f"The score must be between 0 and {submission.max_score:g}.")
    now = utcnow()
    submission.score = round(score, 6)
    submission.status = SubmissionStatus.GRADED
    submission.graded_at = now
    grade = Grade(
        status=SubmissionStatus.GRADED,
        score=submission.score,
        max_score=submission.max_score,
        question_version=submission.question_version,
        exercise_version=submission.exercise_version,
        tests=submission.tests,
        feedback=submission.feedback,
        graded_at=now,
        graded_by_id=by.id,
        comment=comment,
    )
    submission.grades.append(grade)
    attempt = submission.attempt
    if attempt is not None and attempt.status == AttemptStatus.SUBMITTED:
        attempt.score = score_attempt(attempt)
    db.session.flush()
    enqueue_graded_event(submission)
    enqueue_for_submission(submission)
    return grade
