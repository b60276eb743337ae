"""Grading a claimed submission with the sandboxed grader, and writing its result exactly once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from grader import Exercise, ExerciseError, Grader, GradeReport
from grader.uids import claim_uid_block
from question_bank.types import grade_quick, resolve
from service import config
from service.grades import grade_result, write_grade
from service.models import Question, QuestionVersion, Submission, SubmissionStatus, db
from service.regrades import count_regraded

log = logging.getLogger("holdout.grading")

_grader: Grader | None = None
_grader_lock = threading.Lock()
_uid_block_lock: Any = None


def grader_slots() -> int:
    return config.current().grader_slots


def get_grader() -> Grader:
    """This process's grader (and its warm zygote), created on first use."""
    global _grader
    with _grader_lock:
        if _grader is None:
            global _uid_block_lock
            settings = config.current()
            base_uid, _uid_block_lock = claim_uid_block(settings.grader_slots)
            # The instance folder (secret key, database, result cache) is out of the jobs' sight.
            _grader = Grader(
                slots=settings.grader_slots,
                base_uid=base_uid,
                hide=[str(settings.instance_dir)],
                cache_dir=settings.instance_dir / "grader-cache",
            )
        return _grader


def close_grader() -> None:
    global _grader
    with _grader_lock:
        if _grader is not None:
            _grader.close()
            _grader = None


@dataclass(frozen=True)
class GradedAgainst:
    """A question as one version of it grades: versions never change, so they are cached."""

    type: str
    points: float
    data: dict[str, Any]
    exercise: Exercise | None


_versions: dict[tuple[int, int], GradedAgainst] = {}
_versions_lock = threading.Lock()
VERSION_CACHE_SIZE = 256


def graded_against(question_id: int, version: int) -> GradedAgainst:
    key = (question_id, version)
    with _versions_lock:
        found = _versions.get(key)
    if found is not None:
        return found
    row = db.session.execute(
        select(Question.type, QuestionVersion.points, QuestionVersion.data)
        .join(QuestionVersion, QuestionVersion.question_id == Question.id)
        .where(Question.id == question_id, QuestionVersion.version == version)
    ).one()
    qtype, points, data = row
    exercise = Exercise.from_dict(data["exercise"]) if qtype == "code" else None
    found = GradedAgainst(qtype, points, data, exercise)
    with _versions_lock:
        if len(_versions) >= VERSION_CACHE_SIZE:
            _versions.clear()
        _versions[key] = found
    return found


def prepare_exercises(done: Callable[[str, float, str | None], None]) -> None:
    """Run now, for every code question in use, what grading learns once per version (the
    reference's outputs, the mutants' profiles, a lab's baseline) into the result cache, so that an
    exam's first wrong answer does not pay for it. `done(slug, seconds, problem)` after each.
    SandboxUnavailable propagates."""
    rows = db.session.execute(
        select(Question.id, Question.slug, Question.version)
        .where(Question.type == "code", Question.archived_at.is_(None))
        .order_by(Question.slug)
    ).all()
    db.session.rollback()
    grader = get_grader()
    for question_id, slug, version in rows:
        exercise = graded_against(question_id, version).exercise
        assert exercise is not None
        started, problem = time.monotonic(), None
        try:
            grader.prepare(exercise)
        except ExerciseError as exc:
            problem = str(exc)
        done(slug, time.monotonic() - started, problem)


def evaluate(
    question: GradedAgainst, answer: Any, variant: dict[str, Any] | None = None
) -> GradeReport | dict[str, Any]:
    """Grade an answer against one version of a question: the sandbox for code, at once else
    (with the student's own values for a question with parameters)."""
    if question.exercise is not None:
        return get_grader().grade(question.exercise, answer)
    verdict = grade_quick(question.type, resolve(question.type, question.data, variant), answer)
    return {"fraction": verdict.fraction, "feedback": verdict.feedback}


def grade_submission(submission_id: int, owner: str) -> bool:
    """Grade a submission this owner has claimed; return False if the lease was lost meanwhile.

    SandboxUnavailable propagates: that is the operator's problem, not the student's grade."""
    submission = db.session.get(Submission, submission_id)
    if submission is None or submission.lease_owner != owner:
        return False
    question = graded_against(submission.question_id, submission.question_version)
    points, answer, variant = question.points, submission.answer, submission.variant
    db.session.rollback()  # don't hold a transaction (or SQLite's lock) while grading
    try:
        outcome = evaluate(question, answer, variant)
    except ExerciseError as exc:
        result = grade_result(
            SubmissionStatus.FAILED, 0.0, [], f"The exercise itself is broken: {exc}"
        )
        return write_result(submission_id, owner, result)
    if isinstance(outcome, dict):
        result = grade_result(
            SubmissionStatus.GRADED, outcome["fraction"] * points, [], outcome["feedback"]
        )
    else:
        result = grade_result(
            SubmissionStatus(outcome.status),
            outcome.score / outcome.max_score * points if outcome.max_score else 0.0,
            [t.to_dict() for t in outcome.tests],
            outcome.feedback,
            exercise_version=outcome.exercise_version,
            timings=outcome.timings,
            lab=outcome.to_dict().get("lab"),  # a lab exercise's curves (service.labs)
        )
    return write_result(submission_id, owner, result)


def fraction(score: float | None, maximum: float) -> float | None:
    return None if score is None else round(score / maximum, 9) if maximum else 0.0


def write_result(submission_id: int, owner: str, result: dict[str, Any]) -> bool:
    """Store the result if this owner still holds the lease. The conditional write is what makes
    a result exactly-once: a worker whose lease expired and was taken over writes nothing."""
    submission = db.session.get(Submission, submission_id)
    if submission is None:
        return False
    regrade_id = submission.regrade_id
    # A regrade may change the points too: whether it changed the grade is a matter of fractions
    # (3 of 4 points, then 3 of 3, is a change from 75% to 100%).
    graded_before = submission.grades[-1].max_score if submission.grades else submission.max_score
    previous = fraction(submission.score, graded_before)
    held = (Submission.status == SubmissionStatus.RUNNING) & (Submission.lease_owner == owner)
    if not write_grade(submission, result, only_if=held):
        db.session.rollback()
        log.warning("result discarded: lease lost", extra={"submission_id": submission_id})
        return False
    written = {
        "submission_id": submission_id,
        "status": str(submission.status),
        "score": submission.score,
        "timings": submission.timings,
    }
    if regrade_id is not None:
        count_regraded(
            regrade_id, changed=previous != fraction(submission.score, submission.max_score)
        )
    db.session.commit()
    log.info("graded", extra=written)
    return True
