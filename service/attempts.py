"""Quiz attempts: start within the quiz's window and attempt limit, answer, submit, score."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from service.errors import Problem
from service.events import AttemptHandedIn, AttemptRescored, EventBus, SubmissionGraded, publish
from service.models import (
    AttemptStatus,
    Enrollment,
    Question,
    Quiz,
    QuizAttempt,
    Submission,
    User,
    db,
    utcnow,
)
from service.submissions import create_submission


def results_visible(submission: Submission) -> bool:
    """A score is shown once graded, but not while its quiz attempt is still open."""
    attempt = submission.attempt
    return attempt is None or attempt.status == AttemptStatus.SUBMITTED


def quiz_max_score(quiz: Quiz) -> float:
    return sum(item.question.points for item in quiz.items)


def deadline(attempt: QuizAttempt) -> datetime | None:
    """When answers stop being accepted: the time limit or the quiz's close, whichever is first."""
    candidates = [attempt.quiz.closes_at]
    if attempt.quiz.time_limit_minutes:
        candidates.append(attempt.started_at + timedelta(minutes=attempt.quiz.time_limit_minutes))
    present = [c for c in candidates if c is not None]
    return min(present) if present else None


def enroll(user: User, course_id: int) -> None:
    exists = db.session.scalar(
        select(Enrollment.id).where(
            Enrollment.user_id == user.id, Enrollment.course_id == course_id
        )
    )
    if exists is None:
        db.session.add(Enrollment(user_id=user.id, course_id=course_id))


def start_attempt(user: User, quiz: Quiz) -> tuple[QuizAttempt, bool]:
    """Return (attempt, created). An attempt still in progress is resumed, not duplicated."""
    now = utcnow()
    if quiz.opens_at and now < quiz.opens_at:
        raise Problem(409, f"Quiz '{quiz.slug}' opens at {quiz.opens_at.isoformat()}.")
    if quiz.closes_at and now >= quiz.closes_at:
        raise Problem(409, f"Quiz '{quiz.slug}' closed at {quiz.closes_at.isoformat()}.")
    attempts = db.session.scalars(
        select(QuizAttempt)
        .where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == user.id)
        .order_by(QuizAttempt.number)
    ).all()
    for attempt in attempts:
        if attempt.status == AttemptStatus.IN_PROGRESS:
            return attempt, False
    if quiz.attempt_limit is not None and len(attempts) >= quiz.attempt_limit:
        raise Problem(
            409,
            f"All {quiz.attempt_limit} attempt(s) at quiz '{quiz.slug}' have been used.",
        )
    attempt = QuizAttempt(
        quiz=quiz,
        user=user,
        number=len(attempts) + 1,
        status=AttemptStatus.IN_PROGRESS,
        max_score=quiz_max_score(quiz),
    )
    db.session.add(attempt)
    enroll(user, quiz.course_id)
    return attempt, True


def _question_in(quiz: Quiz, slug: str) -> Question:
    for item in quiz.items:
        if item.question.slug == slug:
            return item.question
    raise Problem(404, f"Quiz '{quiz.slug}' has no question '{slug}'.")


def answer_question(attempt: QuizAttempt, slug: str, answer: Any) -> Submission:
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise Problem(409, "This attempt has been submitted; start a new attempt to answer again.")
    limit = deadline(attempt)
    if limit is not None and utcnow() >= limit:
        raise Problem(409, f"The time for this attempt ran out at {limit.isoformat()}.")
    question = _question_in(attempt.quiz, slug)
    return create_submission(attempt.user, question, answer, attempt=attempt)


def latest_answers(attempt: QuizAttempt) -> dict[int, Submission]:
    """The last answer to each question in the attempt (earlier ones are kept, not counted)."""
    latest: dict[int, Submission] = {}
    for submission in attempt.submissions:
        latest[submission.question_id] = submission
    return latest


def score_attempt(attempt: QuizAttempt) -> float:
    return sum((s.score or 0.0) for s in latest_answers(attempt).values())


def submit_attempt(attempt: QuizAttempt) -> QuizAttempt:
    if attempt.status == AttemptStatus.SUBMITTED:
        return attempt
    attempt.status = AttemptStatus.SUBMITTED
    attempt.submitted_at = utcnow()
    attempt.score = score_attempt(attempt)
    db.session.flush()
    publish(AttemptHandedIn(attempt_id=attempt.id, user_id=attempt.user_id))
    return attempt


def rescore_on_grade(event: SubmissionGraded) -> None:
    """A code answer graded after its attempt was handed in changes the attempt's score."""
    if event.attempt_id is None:
        return
    attempt = db.session.get(QuizAttempt, event.attempt_id)
    if attempt is None or attempt.status != AttemptStatus.SUBMITTED:
        return
    attempt.score = score_attempt(attempt)
    db.session.flush()
    publish(AttemptRescored(attempt_id=attempt.id, user_id=attempt.user_id))


def listen(bus: EventBus) -> None:
    bus.subscribe(SubmissionGraded, rescore_on_grade)


@dataclass
class AnswerView:
    question: str
    answered: bool
    answer: Any
    score: float | None
    max_score: float
    feedback: str | None
    explanation: str | None


def attempt_answers(attempt: QuizAttempt) -> list[AnswerView]:
    """Per question: what was answered, and once submitted, its score and explanation."""
    latest = latest_answers(attempt)
    done = attempt.status == AttemptStatus.SUBMITTED
    views = []
    for item in attempt.quiz.items:
        submission = latest.get(item.question_id)
        views.append(
            AnswerView(
                question=item.question.slug,
                answered=submission is not None,
                answer=submission.answer if submission else None,
                score=(submission.score or 0.0 if submission else 0.0) if done else None,
                max_score=item.question.points,
                feedback=submission.feedback if done and submission else None,
                explanation=item.question.explanation if done else None,
            )
        )
    return views


def attempt_count(quiz: Quiz, user: User) -> int:
    return (
        db.session.scalar(
            select(func.count(QuizAttempt.id)).where(
                QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == user.id
            )
        )
        or 0
    )
