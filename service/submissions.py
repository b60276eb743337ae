"""Accepting answers: quick types are graded at once, code answers are queued for the grader."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from question_bank.types import (
    AnswerError,
    check_answer_shape,
    draw_variant,
    grade_quick,
    graded_at_once,
    resolve,
)
from service import config
from service.errors import Problem
from service.grades import apply_penalty as apply_penalty  # re-exported: its old home
from service.grades import grade_result, write_grade
from service.models import (
    AttemptStatus,
    Question,
    QuizAttempt,
    Submission,
    SubmissionStatus,
    User,
    db,
    utcnow,
)
from service.quizzes import late_penalty_for, sealing_quiz

# Between two code submissions to one question outside a quiz (a quiz sets its own).
CODE_COOLDOWN_SECONDS = config.current().code_cooldown_seconds


def normalized_answer(question: Question, answer: Any) -> Any:
    """The answer in the form this question takes, or a 422 saying what form that is."""
    try:
        return check_answer_shape(question.type, question.data, answer)
    except AnswerError as exc:
        raise Problem(422, f"Invalid answer for {question.type} question: {exc}") from exc


def late_penalty(attempt: QuizAttempt | None, now: datetime | None = None) -> float:
    return late_penalty_for(attempt, now)  # the student's own due date (an extension moves it)


def check_cooldown(user: User, question: Question, attempt: QuizAttempt | None) -> None:
    """Code answers cost a sandbox run each: a student waits between two, and is told how long."""
    cooldown = attempt.quiz.cooldown_seconds if attempt else CODE_COOLDOWN_SECONDS
    if question.type != "code" or cooldown <= 0:
        return
    last = db.session.scalar(
        select(func.max(Submission.created_at)).where(
            Submission.user_id == user.id, Submission.question_id == question.id
        )
    )
    if last is None:
        return
    wait = (last + timedelta(seconds=cooldown) - utcnow()).total_seconds()
    if wait > 0:
        seconds = math.ceil(wait)
        raise Problem(
            429,
            f"Please wait {seconds} s before submitting code to '{question.slug}' again "
            f"(one submission every {cooldown} s).",
            headers={"Retry-After": str(seconds)},
        )


def check_not_in_open_attempt(user: User, question: Question) -> None:
    """While a quiz attempt holding this question (fixed, or drawn from a pool into it) is open,
    answering it on its own would show the score (and the explanation) the attempt keeps hidden
    until it is submitted."""
    open_attempts = db.session.scalars(
        select(QuizAttempt)
        .where(QuizAttempt.user_id == user.id, QuizAttempt.status == AttemptStatus.IN_PROGRESS)
        .order_by(QuizAttempt.id)
    )
    for attempt in open_attempts:
        if question.slug in attempt.question_slugs():
            raise Problem(
                409,
                f"Your attempt at quiz '{attempt.quiz.slug}' holds this question and is still "
                "open: answer it there, or submit the attempt first.",
            )
    sealed = sealing_quiz(question, user.id)
    if sealed is not None:
        raise Problem(
            403,
            f"This question belongs to the assessment '{sealed.slug}': it is answered only in "
            "an attempt at that quiz until the quiz closes.",
        )


def standalone_variant(user: User, question: Question) -> dict[str, Any] | None:
    """A student's own values of a question with parameters, outside a quiz: stable for them."""
    return draw_variant(question.data, f"standalone:{user.id}:{question.slug}")


def create_submission(
    user: User,
    question: Question,
    answer: Any,
    attempt: QuizAttempt | None = None,
    variant: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Submission:
    """A new submission: quick answers graded at once, code answers queued for the grader.
    `at`: when it was given (default now; an attempt's answer passes the moment it checked
    the deadline against). The caller commits, then dispatches the queued ones
    (service.jobs.dispatch)."""
    at = at or utcnow()
    answer = normalized_answer(question, answer)
    if attempt is None:
        check_not_in_open_attempt(user, question)
        variant = standalone_variant(user, question)
    check_cooldown(user, question, attempt)
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
        late_penalty=late_penalty(attempt, at),
        variant=variant,
        created_at=at,
    )
    db.session.add(submission)
    if not graded_at_once(question.type):
        return submission  # queued for the sandbox
    verdict = grade_quick(question.type, resolve(question.type, question.data, variant), answer)
    write_grade(
        submission,
        grade_result(
            SubmissionStatus.GRADED, verdict.fraction * question.points, [], verdict.feedback
        ),
    )
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
