"""A course's gradebook: per student, each quiz's counted score (best or latest attempt, as the quiz
says), the best score on each question of the course's quizzes, and totals; also as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import func, select

from service.attempts import quiz_max_score
from service.models import (
    AttemptStatus,
    Course,
    Enrollment,
    Question,
    QuizAttempt,
    Role,
    ScorePolicy,
    Submission,
    SubmissionStatus,
    User,
    db,
)


@dataclass
class GradebookRow:
    user: User
    scores: dict[str, float | None] = field(default_factory=dict)
    question_scores: dict[str, float | None] = field(default_factory=dict)
    total: float = 0.0
    max_total: float = 0.0


@dataclass
class Gradebook:
    course: Course
    quizzes: list[dict[str, object]]
    questions: list[dict[str, object]]
    students: list[GradebookRow]


def _quiz_scores(
    quiz_ids: list[int], policies: dict[int, ScorePolicy]
) -> dict[tuple[int, int], float]:
    """(quiz id, user id) -> the score that counts: the best submitted attempt, or the latest."""
    attempts = db.session.execute(
        select(QuizAttempt.quiz_id, QuizAttempt.user_id, QuizAttempt.score)
        .where(QuizAttempt.quiz_id.in_(quiz_ids), QuizAttempt.status == AttemptStatus.SUBMITTED)
        .order_by(QuizAttempt.submitted_at, QuizAttempt.id)
    ).all()
    counted: dict[tuple[int, int], float] = {}
    for quiz_id, user_id, score in attempts:
        key, score = (quiz_id, user_id), score or 0.0
        if policies[quiz_id] == ScorePolicy.LATEST or key not in counted:
            counted[key] = score
        else:
            counted[key] = max(counted[key], score)
    return counted


def course_gradebook(course: Course) -> Gradebook:
    quizzes = list(course.quizzes)
    maxima = {q.slug: quiz_max_score(q) for q in quizzes}
    questions: dict[int, Question] = {}
    for quiz in quizzes:
        for item in quiz.items:
            questions.setdefault(item.question_id, item.question)
    students = db.session.scalars(
        select(User)
        .join(Enrollment, Enrollment.user_id == User.id)
        .where(Enrollment.course_id == course.id, User.role == Role.STUDENT)
        .order_by(User.name, User.id)
    ).all()
    counted = _quiz_scores([q.id for q in quizzes], {q.id: q.score_policy for q in quizzes})
    best_by_question = {
        (question_id, user_id): score
        for question_id, user_id, score in db.session.execute(
            select(Submission.question_id, Submission.user_id, func.max(Submission.score))
            .where(
                Submission.question_id.in_(list(questions)),
                Submission.user_id.in_([s.id for s in students]),
                Submission.status == SubmissionStatus.GRADED,
            )
            .group_by(Submission.question_id, Submission.user_id)
        )
    }
    rows = []
    for student in students:
        row = GradebookRow(user=student, max_total=sum(maxima.values()))
        for quiz in quizzes:
            score = counted.get((quiz.id, student.id))
            row.scores[quiz.slug] = score
            row.total += score or 0.0
        for question_id, question in questions.items():
            row.question_scores[question.slug] = best_by_question.get((question_id, student.id))
        rows.append(row)
    return Gradebook(
        course=course,
        quizzes=[
            {
                "slug": q.slug,
                "title": q.title,
                "max_score": maxima[q.slug],
                "score_policy": str(q.score_policy),
            }
            for q in quizzes
        ],
        questions=[
            {"slug": q.slug, "title": q.title, "max_score": q.points} for q in questions.values()
        ],
        students=rows,
    )


def gradebook_csv(book: Gradebook) -> str:
    """One row per student: id, name, each quiz's score, each question's best score, the total."""
    out = io.StringIO()
    writer = csv.writer(out)
    quiz_slugs = [str(q["slug"]) for q in book.quizzes]
    question_slugs = [str(q["slug"]) for q in book.questions]
    writer.writerow(
        ["user_id", "name", *(f"quiz:{s}" for s in quiz_slugs),
         *(f"question:{s}" for s in question_slugs), "total", "max_total"]
    )  # fmt: skip

    def cell(value: float | None) -> str:
        return "" if value is None else f"{value:g}"

    for row in book.students:
        writer.writerow(
            [row.user.id, _safe_cell(row.user.name),
             *(cell(row.scores[s]) for s in quiz_slugs),
             *(cell(row.question_scores[s]) for s in question_slugs),
             cell(row.total), cell(row.max_total)]
        )  # fmt: skip
    return out.getvalue()


def _safe_cell(text: str) -> str:
    """Names come from users: one starting with = + - @ would run as a formula in a spreadsheet."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
