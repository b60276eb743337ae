"""Accepting answers: quick types are graded at once, code answers are queued for the grader."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from question_bank.types import AnswerError, check_answer_shape, draw_variant, grade_quick, resolve
from service import config
from service.errors import Problem
from service.lti.ags import enqueue_for_submission as enqueue_lti_scores
from service.models import (
    AttemptStatus,
    Grade,
    Question,
    Quiz,
    QuizAttempt,
    QuizQuestion,
    Submission,
    SubmissionStatus,
    User,
    db,
    utcnow,
)
from service.quizzes import late_penalty_for, sealing_quiz
from service.webhooks import enqueue_graded_event

# Between two code submissions to one question outside a quiz (a quiz sets its own).
CODE_COOLDOWN_SECONDS = config.current().code_cooldown_seconds


def normalized_answer(question: Question, answer: Any) -> Any:
    """The answer in the form this question takes, or a 422 saying what form that is."""
    try:
        return check_answer_shape(question.type, question.data, answer)
    except AnswerError as exc:
        raise Problem(422, f"Invalid answer for {question.type} question: {exc}") from exc


def grade_result(
    status: SubmissionStatus,
    score: float,
    tests: list[Any],
    feedback: str,
    exercise_version: str | None = None,
    timings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A result as every grading path hands it to be stored (see service.grading.write_result)."""
    return {
        "status": status,
        "score": score,
        "tests": tests,
        "feedback": feedback,
        "exercise_version": exercise_version,
        "timings": timings,
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


def late_penalty(attempt: QuizAttempt | None) -> float:
    return late_penalty_for(attempt)  # the student's own due date (an extension moves it)


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
    """While a quiz attempt holding this question is open, answering it on its own would show
    the score (and the explanation) the attempt keeps hidden until it is submitted."""
    quiz_slug = db.session.scalar(
        select(Quiz.slug)
        .join(QuizAttempt, QuizAttempt.quiz_id == Quiz.id)
        .join(QuizQuestion, QuizQuestion.quiz_id == Quiz.id)
        .where(
            QuizAttempt.user_id == user.id,
            QuizAttempt.status == AttemptStatus.IN_PROGRESS,
            QuizQuestion.question_id == question.id,
        )
        .limit(1)
    )
    if quiz_slug is not None:
        raise Problem(
            409,
            f"Your attempt at quiz '{quiz_slug}' holds this question and is still open: "
            "answer it there, or submit the attempt first.",
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
) -> Submission:
    """A new submission: quick answers graded at once, code answers queued for the grader.
    The caller commits, then dispatches the queued ones (service.jobs.dispatch)."""
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
        late_penalty=late_penalty(attempt),
        variant=variant,
    )
    db.session.add(submission)
    if question.type == "code":
        return submission
    verdict = grade_quick(question.type, resolve(question.type, question.data, variant), answer)
    result = apply_penalty(
        grade_result(
            SubmissionStatus.GRADED, verdict.fraction * question.points, [], verdict.feedback
        ),
        submission.late_penalty,
    )
    submission.status = SubmissionStatus.GRADED
    submission.score = round(result["score"], 6)
    submission.feedback = result["feedback"]
    submission.graded_at = utcnow()
    submission.grades.append(
        Grade(
            status=submission.status,
            score=submission.score,
            max_score=submission.max_score,
            question_version=submission.question_version,
            feedback=submission.feedback,
            tests=[],
            graded_at=submission.graded_at,
        )
    )
    db.session.flush()
    enqueue_graded_event(submission)
    enqueue_lti_scores(submission)
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
