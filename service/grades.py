"""The grade writer: every grade a submission gets goes through `write_grade`.

A sandbox result, a quick answer's verdict, a give-up after too many interrupted gradings and an
instructor's override are all written here: the submission's current result, a row in its grade
history, and the `SubmissionGraded` event (service.events), whose in-transaction listeners (attempt
rescoring, webhook and LMS outbox rows) join this transaction and whose after-commit listeners
(waiting clients, the delivery loop) hear of it once it is committed. The caller commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from service.events import SubmissionGraded, publish
from service.labs import clean_lab
from service.models import Grade, Submission, SubmissionStatus, db, rows_changed, utcnow


def grade_result(
    status: SubmissionStatus,
    score: float,
    tests: list[Any],
    feedback: str,
    exercise_version: str | None = None,
    timings: dict[str, Any] | None = None,
    lab: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A result as every grading path hands it to `write_grade` (`lab`: a lab exercise's
    curves, as its grade report has them; see service.labs)."""
    return {
        "status": status,
        "score": score,
        "tests": tests,
        "feedback": feedback,
        "exercise_version": exercise_version,
        "timings": timings,
        "lab": lab,
    }


def apply_penalty(result: dict[str, Any], penalty: float) -> dict[str, Any]:
    """A late answer's grade: the score reduced by the quiz's late penalty, and said so."""
    if penalty <= 0 or result["status"] != SubmissionStatus.GRADED:
        return result
    note = f" Late: the score is reduced by {penalty:.0%}."
    return {
        **result,
        "score": result["score"] * (1 - penalty),
        "feedback": result["feedback"] + note,
    }


def write_grade(
    submission: Submission,
    result: dict[str, Any],
    *,
    only_if: Any = None,
    late_penalty: bool = True,
    now: datetime | None = None,
    graded_by_id: int | None = None,
    comment: str | None = None,
) -> bool:
    """Record a grade for this submission and announce it; return False if `only_if` (extra
    conditions on the submissions row, such as the grading lease) no longer held, in which case
    nothing was written. The caller commits (or rolls back on False).

    `late_penalty=False` records the score as given (an instructor's override, whose author and
    reason go into the grade history)."""
    now = now or utcnow()
    regrade_id = submission.regrade_id
    if late_penalty:
        result = apply_penalty(result, submission.late_penalty)
    score = round(result["score"], 6)
    values = {
        "status": result["status"],
        "score": score,
        "tests": result["tests"],
        "feedback": result["feedback"],
        "exercise_version": result["exercise_version"],
        "timings": result["timings"],
        "lab": clean_lab(result.get("lab")),  # numbers from a sandboxed run: checked here
        "graded_at": now,
        "lease_owner": None,
        "lease_expires_at": None,
        "regrade_id": None,
    }
    if only_if is not None:
        # One conditional UPDATE: a writer whose condition was lost meanwhile writes nothing.
        written = rows_changed(
            update(Submission).where(Submission.id == submission.id, only_if).values(**values)
        )
        if written != 1:
            return False
        for name, value in values.items():  # what the row now holds, without reading it back
            set_committed_value(submission, name, value)
    else:
        for name, value in values.items():
            setattr(submission, name, value)
    # A new submission (a quick answer) is inserted with its grade in one flush.
    of = (
        {"submission_id": submission.id}
        if submission.id is not None
        else {"submission": submission}
    )
    db.session.add(
        Grade(
            **of,
            regrade_id=regrade_id,
            status=result["status"],
            score=score,
            max_score=submission.max_score,
            question_version=submission.question_version,
            exercise_version=result["exercise_version"],
            tests=result["tests"],
            feedback=result["feedback"],
            graded_at=now,
            graded_by_id=graded_by_id,
            comment=comment,
        )
    )
    db.session.flush()
    publish(
        SubmissionGraded(
            submission_id=submission.id,
            user_id=submission.user_id,
            attempt_id=submission.attempt_id,
            status=str(result["status"]),
        )
    )
    return True
