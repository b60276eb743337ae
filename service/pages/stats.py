"""What an instructor's course page shows: a gradebook over the course's quizzes and the items
linked from its LMS course, the distribution of totals, and per-question item statistics.

- difficulty: the mean score fraction (best score / points) of the students who answered;
- discrimination: the upper-lower index. Students are ranked by their total fraction over the
  course's questions; D = mean fraction of the top 27% minus that of the bottom 27% (answering
  nothing counts 0). Between -1 and 1; above 0.3 separates strong from weak students well;
- mean attempts: submissions per student who answered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import case, func, select

from service.lti.ags import quiz_score
from service.lti.models import LtiContext, LtiResourceLink, LtiScoreDelivery
from service.models import (
    Course,
    Enrollment,
    Question,
    Quiz,
    Role,
    Submission,
    SubmissionStatus,
    User,
    db,
)

UPPER_LOWER_FRACTION = 0.27
BINS = 10


@dataclass
class Item:
    kind: str  # "quiz" or "question"
    slug: str
    title: str
    max_score: float


@dataclass
class Row:
    user: User
    scores: dict[str, float | None] = field(default_factory=dict)
    total: float = 0.0
    max_total: float = 0.0

    @property
    def percent(self) -> float | None:
        return 100.0 * self.total / self.max_total if self.max_total else None


@dataclass
class QuestionStat:
    slug: str
    title: str
    points: float
    answered: int
    difficulty: float | None
    discrimination: float | None
    mean_attempts: float | None


@dataclass
class CourseReport:
    course: Course
    items: list[Item]
    rows: list[Row]
    histogram: list[int]
    questions: list[QuestionStat]
    deliveries: list[LtiScoreDelivery]


def course_items(course: Course) -> tuple[list[Item], list[Question]]:
    """The course's quizzes, then what its LMS links open; and every question among them."""
    quizzes: dict[str, Quiz] = {q.slug: q for q in course.quizzes}
    linked_questions: list[str] = []
    links = db.session.scalars(
        select(LtiResourceLink)
        .join(LtiContext, LtiContext.id == LtiResourceLink.context_id)
        .where(LtiContext.course_id == course.id)
        .order_by(LtiResourceLink.id)
    )
    for link in links:
        if link.quiz_slug and link.quiz_slug not in quizzes:
            quiz = db.session.scalar(select(Quiz).where(Quiz.slug == link.quiz_slug))
            if quiz is not None:
                quizzes[quiz.slug] = quiz
        if link.question_slug and link.question_slug not in linked_questions:
            linked_questions.append(link.question_slug)
    items = [
        Item("quiz", q.slug, q.title, sum(i.question.points for i in q.items))
        for q in quizzes.values()
    ]
    questions: dict[str, Question] = {}
    for quiz in quizzes.values():
        for entry in quiz.items:
            questions.setdefault(entry.question.slug, entry.question)
    for slug in linked_questions:
        question = db.session.scalar(select(Question).where(Question.slug == slug))
        if question is not None:
            items.append(Item("question", slug, question.title, question.points))
            questions.setdefault(slug, question)
    return items, list(questions.values())


def course_report(course: Course) -> CourseReport:
    items, questions = course_items(course)
    students = list(
        db.session.scalars(
            select(User)
            .join(Enrollment, Enrollment.user_id == User.id)
            .where(Enrollment.course_id == course.id, User.role == Role.STUDENT)
            .order_by(User.name, User.id)
        )
    )
    per_pair = _best_and_counts([q.id for q in questions], [s.id for s in students])
    by_slug = {q.slug: q for q in questions}
    rows = []
    for student in students:
        row = Row(user=student)
        for item in items:
            score: float | None
            if item.kind == "quiz":
                quiz = db.session.scalar(select(Quiz).where(Quiz.slug == item.slug))
                counted = quiz_score(quiz, student.id) if quiz is not None else None
                score = counted[0] if counted else None
            else:
                score = per_pair.get((by_slug[item.slug].id, student.id), (None, 0))[0]
            row.scores[item.slug] = score
            row.total += score or 0.0
            row.max_total += item.max_score
        rows.append(row)
    deliveries = list(
        db.session.scalars(
            select(LtiScoreDelivery)
            .join(LtiResourceLink, LtiResourceLink.id == LtiScoreDelivery.resource_link_id)
            .join(LtiContext, LtiContext.id == LtiResourceLink.context_id)
            .where(LtiContext.course_id == course.id)
            .order_by(LtiScoreDelivery.id.desc())
            .limit(20)
        )
    )
    return CourseReport(
        course=course,
        items=items,
        rows=rows,
        histogram=histogram([r.percent for r in rows]),
        questions=question_stats(questions, [s.id for s in students], per_pair),
        deliveries=deliveries,
    )


def _best_and_counts(
    question_ids: list[int], user_ids: list[int]
) -> dict[tuple[int, int], tuple[float | None, int]]:
    """(question id, user id) -> (best graded score, number of submissions)."""
    if not question_ids or not user_ids:
        return {}
    graded = case((Submission.status == SubmissionStatus.GRADED, Submission.score))
    return {
        (question_id, user_id): (best, count)
        for question_id, user_id, best, count in db.session.execute(
            select(
                Submission.question_id,
                Submission.user_id,
                func.max(graded),
                func.count(Submission.id),
            )
            .where(Submission.question_id.in_(question_ids), Submission.user_id.in_(user_ids))
            .group_by(Submission.question_id, Submission.user_id)
        )
    }


def histogram(percents: list[float | None], bins: int = BINS) -> list[int]:
    """Counts of totals in [0, 10), [10, 20), ... [90, 100] percent."""
    counts = [0] * bins
    for percent in percents:
        if percent is None:
            continue
        index = min(bins - 1, max(0, int(percent * bins // 100)))
        counts[index] += 1
    return counts


def question_stats(
    questions: list[Question],
    user_ids: list[int],
    per_pair: dict[tuple[int, int], tuple[float | None, int]],
) -> list[QuestionStat]:
    fractions = {
        (q.id, u): (per_pair[(q.id, u)][0] or 0.0) / q.points if q.points else 0.0
        for q in questions
        for u in user_ids
        if (q.id, u) in per_pair
    }
    answered_any = [u for u in user_ids if any((q.id, u) in per_pair for q in questions)]
    totals = {u: sum(fractions.get((q.id, u), 0.0) for q in questions) for u in answered_any}
    ranked = sorted(answered_any, key=lambda u: (totals[u], -u))
    group = max(1, round(UPPER_LOWER_FRACTION * len(ranked)))
    lower, upper = ranked[:group], ranked[-group:]
    stats = []
    for question in questions:
        answered = [u for u in user_ids if (question.id, u) in per_pair]
        difficulty = (
            sum(fractions[(question.id, u)] for u in answered) / len(answered) if answered else None
        )
        discrimination = None
        if len(ranked) >= 2 and answered:
            discrimination = _mean(fractions.get((question.id, u), 0.0) for u in upper) - _mean(
                fractions.get((question.id, u), 0.0) for u in lower
            )
        attempts = (
            sum(per_pair[(question.id, u)][1] for u in answered) / len(answered)
            if answered
            else None
        )
        stats.append(
            QuestionStat(
                slug=question.slug,
                title=question.title,
                points=question.points,
                answered=len(answered),
                difficulty=difficulty,
                discrimination=discrimination,
                mean_attempts=attempts,
            )
        )
    return stats


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0
