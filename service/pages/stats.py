"""What an instructor's course page shows: the course's gradebook (service.gradebook: its quizzes
and the items linked from its LMS course), the distribution of totals, and per-question item
statistics over what counts (a quiz question's answer in the credited attempt; a linked
question's credited standalone work), never practice answers or open attempts. For each lab
exercise (service.labs), the distribution of the final validation loss of the students' runs:
each student's latest graded submission of it among the course's submissions the caller sees as
staff (service.access.course_submissions).

- difficulty: the mean score fraction (score / points) of the students who answered;
- discrimination: the upper-lower index. Students are ranked by their total fraction over the
  course's questions; D = mean fraction of the top 27% minus that of the bottom 27% (answering
  nothing counts 0). Between -1 and 1; above 0.3 separates strong from weak students well;
- mean attempts: answers per student who answered (in handed-in attempts, or on its own for a
  linked question).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from service import access
from service.gradebook import GradebookRow, Item, course_gradebook, course_items
from service.labs import final_validation_loss
from service.lti.models import LtiContext, LtiResourceLink, LtiScoreDelivery
from service.models import Course, Question, Submission, SubmissionStatus, db
from service.pages.charts import DASH, nice_step

UPPER_LOWER_FRACTION = 0.27
BINS = 10


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
class LabDistribution:
    """A lab's final validation losses in the class: one per student (their latest graded run)."""

    slug: str
    title: str
    losses: list[float]
    diverged: int  # students whose run ended without a finite validation loss
    bands: list[tuple[float, float]]
    counts: list[int]
    reference: float | None
    baseline: float | None

    @property
    def median(self) -> float | None:
        return statistics.median(self.losses) if self.losses else None

    @property
    def labels(self) -> list[str]:
        return [f"{low:.3g}{DASH}{high:.3g}" for low, high in self.bands]


@dataclass
class CourseReport:
    course: Course
    items: list[Item]
    rows: list[GradebookRow]
    histogram: list[int]
    questions: list[QuestionStat]
    deliveries: list[LtiScoreDelivery]
    labs: list[LabDistribution]


def course_report(course: Course) -> CourseReport:
    """The page's numbers, all from the one gradebook: the same as its JSON, CSV and the LMS."""
    book = course_gradebook(course)
    _, _, _, linked = course_items(course)
    per_pair: dict[tuple[int, int], tuple[float | None, int]] = {}
    for row in book.students:
        for question in book.questions:
            score = row.question_scores.get(question.slug)
            if score is not None:
                per_pair[(question.id, row.user.id)] = (score, row.answer_counts[question.slug])
        for question in linked:
            score = row.item_scores.get(f"question:{question.slug}")
            if score is not None:
                per_pair[(question.id, row.user.id)] = (score, _standalone_count(question, row))
    questions = [*book.questions, *(q for q in linked if q not in book.questions)]
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
        items=book.items,
        rows=book.students,
        histogram=histogram([r.percent for r in book.students]),
        questions=question_stats(questions, [r.user.id for r in book.students], per_pair),
        deliveries=deliveries,
        labs=lab_distributions(course),
    )


def _standalone_count(question: Question, row: GradebookRow) -> int:
    return (
        db.session.scalar(
            select(func.count(Submission.id)).where(
                Submission.question_id == question.id,
                Submission.user_id == row.user.id,
                Submission.attempt_id.is_(None),
            )
        )
        or 0
    )


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


LAB_BANDS = 8


def lab_distributions(course: Course) -> list[LabDistribution]:
    """Per lab exercise with graded runs in the course: its students' final validation losses."""
    latest = (
        select(func.max(Submission.id))
        .where(
            access.course_submissions(course.id),
            Submission.status == SubmissionStatus.GRADED,
            Submission.lab.is_not(None),
        )
        .group_by(Submission.question_id, Submission.user_id)
    )
    by_question: dict[int, list[Submission]] = {}
    for submission in db.session.scalars(
        select(Submission).where(Submission.id.in_(latest)).order_by(Submission.id)
    ):
        by_question.setdefault(submission.question_id, []).append(submission)
    found = []
    for submissions in by_question.values():
        question, newest = submissions[0].question, submissions[-1]
        finals = [final_validation_loss(s.lab) for s in submissions]
        losses = sorted(v for v in finals if v is not None)
        bands = loss_bands(losses)
        counts = [0] * len(bands)
        for loss in losses:
            index = next(
                i for i, (_, high) in enumerate(bands) if loss <= high or i == len(bands) - 1
            )
            counts[index] += 1
        found.append(
            LabDistribution(
                slug=question.slug,
                title=question.title,
                losses=losses,
                diverged=len(finals) - len(losses),
                bands=bands,
                counts=counts,
                reference=final_validation_loss(newest.lab, "reference"),
                baseline=final_validation_loss(newest.lab, "baseline"),
            )
        )
    return sorted(found, key=lambda d: d.title)


def loss_bands(losses: list[float], count: int = LAB_BANDS) -> list[tuple[float, float]]:
    """About `count` equal bands with round edges covering the losses (a value on an edge
    belongs to the band below it, the lowest value to the first band)."""
    if not losses:
        return []
    low, high = min(losses), max(losses)
    step = nice_step(high - low, count) if high > low else nice_step(abs(low) or 1.0, 10)
    start = math.floor(low / step) * step
    bands = max(1, math.ceil((high - start) / step - 1e-9))
    return [(start + i * step, start + (i + 1) * step) for i in range(bands)]
