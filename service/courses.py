"""Which course a piece of student work belongs to: used by course-scoped tokens and webhooks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal, select

from service.models import Enrollment, Quiz, QuizQuestion, Submission, db


def submission_course_ids(submission: Submission) -> set[int]:
    """The courses a submission counts in: its attempt's course; for a standalone one, every
    course the student is enrolled in that holds the question (in a quiz, or linked from its
    LMS: service.access.course_questions). The same rule as the access filter
    (service.access._submissions_in), row by row: each of these courses' staff read it, and
    only authority over all of them lets anyone change its grade."""
    if submission.attempt is not None:
        return {submission.attempt.quiz.course_id}
    from service.access import course_questions

    return set(
        db.session.scalars(
            select(Enrollment.course_id).where(
                Enrollment.user_id == submission.user_id,
                literal(submission.question_id).in_(course_questions([Enrollment.course_id])),
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
