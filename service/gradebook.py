"""A course's gradebook: per student, the best submitted attempt at each quiz, and totals."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from service.attempts import quiz_max_score
from service.models import (
    AttemptStatus,
    Course,
    Enrollment,
    QuizAttempt,
    Role,
    User,
    db,
)


@dataclass
class GradebookRow:
    user: User
    scores: dict[str, float | None] = field(default_factory=dict)
    total: float = 0.0
    max_total: float = 0.0


@dataclass
class Gradebook:
    course: Course
    quizzes: list[dict[str, object]]
    students: list[GradebookRow]


def course_gradebook(course: Course) -> Gradebook:
    quizzes = list(course.quizzes)
    maxima = {q.slug: quiz_max_score(q) for q in quizzes}
    students = db.session.scalars(
        select(User)
        .join(Enrollment, Enrollment.user_id == User.id)
        .where(Enrollment.course_id == course.id, User.role == Role.STUDENT)
        .order_by(User.name, User.id)
    ).all()
    best = {
        (quiz_id, user_id): score
        for quiz_id, user_id, score in db.session.execute(
            select(QuizAttempt.quiz_id, QuizAttempt.user_id, func.max(QuizAttempt.score))
            .where(
                QuizAttempt.quiz_id.in_([q.id for q in quizzes]),
                QuizAttempt.status == AttemptStatus.SUBMITTED,
            )
            .group_by(QuizAttempt.quiz_id, QuizAttempt.user_id)
        )
    }
    rows = []
    for student in students:
        row = GradebookRow(user=student, max_total=sum(maxima.values()))
        for quiz in quizzes:
            score = best.get((quiz.id, student.id))
            row.scores[quiz.slug] = score
            row.total += score or 0.0
        rows.append(row)
    return Gradebook(
        course=course,
        quizzes=[{"slug": q.slug, "title": q.title, "max_score": maxima[q.slug]} for q in quizzes],
        students=rows,
    )
