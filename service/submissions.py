"""Accepting answers: quick types are graded at once, code answers are queued for the grader."""

from __future__ import annotations

import time
from typing import Any

from question_bank.types import AnswerError, check_answer_shape, grade_quick
from service.errors import Problem
from service.models import (
    Question,
    QuizAttempt,
    Submission,
    SubmissionStatus,
    User,
    db,
    utcnow,
)


def normalized_answer(question: Question, answer: Any) -> Any:
    """The answer in the form this question takes, or a 422 saying what form that is."""
    try:
        return check_answer_shape(question.type, question.data, answer)
    except AnswerError as exc:
        raise Problem(422, f"Invalid answer for {question.type} question: {exc}") from exc


def create_submission(
    user: User, question: Question, answer: Any, attempt: QuizAttempt | None = None
) -> Submission:
    answer = normalized_answer(question, answer)
    submission = Submission(
        user=user,
        question=question,
        question_version=question.version,
        attempt=attempt,
        answer=answer,
        max_score=question.points,
        status=SubmissionStatus.QUEUED,
        tests=[],
        feedback="",
    )
    if question.type != "code":
        verdict = grade_quick(question.type, question.data, answer)
        submission.status = SubmissionStatus.GRADED
        submission.score = round(verdict.fraction * question.points, 6)
        submission.feedback = verdict.feedback
        submission.graded_at = utcnow()
    db.session.add(submission)
    return submission


SETTLED = (SubmissionStatus.GRADED, SubmissionStatus.FAILED)
WAIT_POLL_SECONDS = 0.1


def wait_until_settled(submission: Submission, seconds: float) -> Submission:
    """Long poll: re-read the row until it is graded or failed, or the time is up."""
    deadline = time.monotonic() + seconds
    while submission.status not in SETTLED and time.monotonic() < deadline:
        db.session.commit()  # end the snapshot, so the next read sees other processes' writes
        time.sleep(WAIT_POLL_SECONDS)
        db.session.refresh(submission)
    return submission
