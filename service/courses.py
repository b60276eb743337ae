"""Which course a piece of student work belongs to: used by course-scoped tokens and webhooks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.models import Enrollment, Quiz, QuizQuestion, Submission, db


def submission_course_ids(submission: Submission) -> set[int]:
    """A submission belongs to its attempt's course; a standalone one to every course the student
    is enrolled in whose quizzes hold the question."""
    if submission.attempt is not None:
        return {submission.attempt.quiz.course_id}
    return set(
        db.session.scalars(
            select(Quiz.course_id)
            .join(QuizQuestion, QuizQuestion.quiz_id == Quiz.id)
            .join(Enrollment, Enrollment.course_id == Quiz.course_id)
            .where(
                QuizQuestion.question_id == submission.question_id,
                Enrollment.user_id == submission.user_id,
            )
        )
    )


def in_course(course_id: int) -> Any:
    """A filter on submissions: those of the course's students to the course's questions."""
    questions = (
        select(QuizQuestion.question_id)
        .join(Quiz, Quiz.id == QuizQuestion.quiz_id)
        .where(Quiz.course_id == course_id)
    )
    students = select(Enrollment.user_id).where(Enrollment.course_id == course_id)
    return Submission.question_id.in_(questions) & Submission.user_id.in_(students)
