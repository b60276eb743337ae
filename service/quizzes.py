"""Creating and changing quizzes: an ordered list of existing questions in a course."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.errors import Problem
from service.models import Course, Question, Quiz, QuizQuestion, ScorePolicy, db, utcnow


def get_or_create_course(slug: str, title: str | None = None) -> Course:
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        course = Course(slug=slug, title=title or slug.replace("-", " ").title())
        db.session.add(course)
        db.session.flush()
    return course


def save_quiz(fields: dict[str, Any]) -> Quiz:
    """Insert or update a quiz by slug. Every listed question must exist (422 names the others)."""
    slugs: list[str] = fields["questions"]
    if len(set(slugs)) != len(slugs):
        raise Problem(422, "A question is listed more than once.")
    found = {
        q.slug: q
        for q in db.session.scalars(
            select(Question).where(Question.slug.in_(slugs), Question.archived_at.is_(None))
        )
    }
    missing = [s for s in slugs if s not in found]
    if missing:
        raise Problem(422, f"Unknown question slugs: {', '.join(missing)}.")
    opens, due, closes = fields.get("opens_at"), fields.get("due_at"), fields.get("closes_at")
    if opens and closes and closes <= opens:
        raise Problem(422, "closes_at must be later than opens_at.")
    if due and ((opens and due <= opens) or (closes and due > closes)):
        raise Problem(422, "due_at must be after opens_at and no later than closes_at.")

    # The course first: looking it up flushes the session, and a new quiz must not be flushed
    # before it has its course (course_id is NOT NULL).
    course = get_or_create_course(fields["course"])
    quiz = db.session.scalar(select(Quiz).where(Quiz.slug == fields["slug"]))
    if quiz is None:
        quiz = Quiz(slug=fields["slug"], course=course)
        db.session.add(quiz)
    quiz.course = course
    quiz.title = fields["title"]
    quiz.description = fields.get("description", "")
    quiz.opens_at = opens
    quiz.closes_at = closes
    quiz.due_at = due
    quiz.late_penalty = fields.get("late_penalty", 0.0)
    quiz.cooldown_seconds = fields.get("cooldown_seconds", 0)
    quiz.score_policy = ScorePolicy(fields.get("score_policy", "best"))
    quiz.attempt_limit = fields.get("attempt_limit")
    quiz.time_limit_minutes = fields.get("time_limit_minutes")
    quiz.updated_at = utcnow()
    current = [item.question.slug for item in quiz.items]
    if current != slugs:
        quiz.items.clear()
        db.session.flush()  # delete the old rows before inserting rows with the same pairs
        quiz.items.extend(
            QuizQuestion(question=found[slug], position=i) for i, slug in enumerate(slugs)
        )
    return quiz
