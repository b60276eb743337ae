"""What counts, computed once: a course's gradebook feeds its page, JSON and CSV, its question
statistics and the scores sent to the LMS.

- A quiz counts its credited attempt, by the quiz's policy (best or latest), among the handed-in
  attempts; open attempts count for nothing yet.
- The course's items are its quizzes, then what its LMS links open that it does not already
  hold (another course's quiz, a single question).
- A question inside a quiz is scored by the student's answer in that quiz's credited attempt:
  practice answers (on its own, or in another course's quiz) never enter a quiz grade.
- A question linked on its own counts the student's best graded standalone submission.
- Scores are kept exact; they are rounded (`shown`) only where they are displayed or sent.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from service.attempts import counted_answers, latest_answers
from service.models import (
    AttemptStatus,
    Course,
    Enrollment,
    Question,
    Quiz,
    QuizAttempt,
    Role,
    ScorePolicy,
    Submission,
    SubmissionStatus,
    User,
    db,
)
from service.quizzes import quiz_max_score

DISPLAY_DECIMALS = 6

# Integrations that link a course to more items (the LMS's resource links): each returns the
# slugs of the quizzes and questions it links the course to. The gradebook asks them; it does
# not know them (service.lti registers one at start-up).
LinkedItems = Callable[[Course], tuple[list[str], list[str]]]
LINKED_ITEMS: list[LinkedItems] = []


def register_linked_items(source: LinkedItems) -> None:
    if source not in LINKED_ITEMS:
        LINKED_ITEMS.append(source)


def shown(value: float | None) -> float | None:
    """A score as it is displayed and sent: 5.6, never 5.6000000000000005."""
    return None if value is None else round(value, DISPLAY_DECIMALS) + 0.0


def credited_attempt(quiz: Quiz, user_id: int) -> QuizAttempt | None:
    """The handed-in attempt that counts under the quiz's policy (best: the highest score, the
    earliest of equals; latest: the last handed in), or None before any is handed in."""
    attempts = db.session.scalars(
        select(QuizAttempt)
        .where(
            QuizAttempt.quiz_id == quiz.id,
            QuizAttempt.user_id == user_id,
            QuizAttempt.status == AttemptStatus.SUBMITTED,
        )
        .order_by(QuizAttempt.submitted_at, QuizAttempt.id)
    ).all()
    if not attempts:
        return None
    if quiz.score_policy == ScorePolicy.LATEST:
        return attempts[-1]
    return max(attempts, key=lambda a: (a.score or 0.0, -a.id))


def counted_quiz_score(quiz: Quiz, user_id: int) -> tuple[float, bool] | None:
    """(the credited score, whether a code answer in it is still being graded), or None."""
    attempt = credited_attempt(quiz, user_id)
    if attempt is None:
        return None
    pending = any(
        s.status in (SubmissionStatus.QUEUED, SubmissionStatus.RUNNING)
        for s in counted_answers(attempt)
    )
    return attempt.score or 0.0, pending


def credited_standalone(question: Question, user_id: int) -> float | None:
    """A question linked on its own: the best graded answer given outside any quiz attempt."""
    score: float | None = db.session.scalar(
        select(func.max(Submission.score)).where(
            Submission.user_id == user_id,
            Submission.question_id == question.id,
            Submission.attempt_id.is_(None),
            Submission.status == SubmissionStatus.GRADED,
        )
    )
    return score


@dataclass
class Item:
    kind: str  # "quiz" or "question"
    slug: str
    title: str
    max_score: float
    score_policy: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.slug}"


@dataclass
class GradebookRow:
    user: User
    scores: dict[str, float | None] = field(default_factory=dict)  # per quiz slug
    question_scores: dict[str, float | None] = field(default_factory=dict)
    item_scores: dict[str, float | None] = field(default_factory=dict)  # per item key
    # Per quiz question: answers to it in the student's handed-in attempts (statistics).
    answer_counts: dict[str, int] = field(default_factory=dict)
    total: float = 0.0
    max_total: float = 0.0

    @property
    def percent(self) -> float | None:
        return 100.0 * self.total / self.max_total if self.max_total else None


@dataclass
class Gradebook:
    course: Course
    items: list[Item]
    questions: list[Question]
    students: list[GradebookRow]

    @property
    def quiz_items(self) -> list[Item]:
        return [i for i in self.items if i.kind == "quiz"]

    @property
    def question_columns(self) -> list[dict[str, object]]:
        return [{"slug": q.slug, "title": q.title, "max_score": q.points} for q in self.questions]


def course_items(course: Course) -> tuple[list[Item], list[Quiz], list[Question], list[Question]]:
    """(items, their quizzes, the questions inside those quizzes, questions linked on their own)."""
    quizzes: dict[str, Quiz] = {q.slug: q for q in course.quizzes}
    linked: list[Question] = []
    for source in LINKED_ITEMS:
        quiz_slugs, question_slugs = source(course)
        for slug in quiz_slugs:
            if slug not in quizzes:
                quiz = db.session.scalar(select(Quiz).where(Quiz.slug == slug))
                if quiz is not None:
                    quizzes[quiz.slug] = quiz
        for slug in question_slugs:
            if slug not in {q.slug for q in linked}:
                question = db.session.scalar(select(Question).where(Question.slug == slug))
                if question is not None:
                    linked.append(question)
    items = [
        Item("quiz", q.slug, q.title, quiz_max_score(q), str(q.score_policy))
        for q in quizzes.values()
    ]
    items += [Item("question", q.slug, q.title, q.points) for q in linked]
    inside: dict[str, Question] = {}
    for quiz in quizzes.values():
        for entry in quiz.items:
            inside.setdefault(entry.question.slug, entry.question)
    return items, list(quizzes.values()), list(inside.values()), linked


def course_gradebook(course: Course) -> Gradebook:
    items, quizzes, inside, linked = course_items(course)
    students = db.session.scalars(
        select(User)
        .join(Enrollment, Enrollment.user_id == User.id)
        .where(Enrollment.course_id == course.id, User.role == Role.STUDENT)
        .order_by(User.name, User.id)
    ).all()
    quiz_ids = [q.id for q in quizzes]
    answer_counts: dict[tuple[int, str], int] = {}
    if quiz_ids:
        for user_id, slug, count in db.session.execute(
            select(Submission.user_id, Question.slug, func.count(Submission.id))
            .join(QuizAttempt, QuizAttempt.id == Submission.attempt_id)
            .join(Question, Question.id == Submission.question_id)
            .where(
                QuizAttempt.quiz_id.in_(quiz_ids),
                QuizAttempt.status == AttemptStatus.SUBMITTED,
                Submission.created_at <= QuizAttempt.submitted_at,  # as counted_answers
            )
            .group_by(Submission.user_id, Question.slug)
        ):
            answer_counts[(user_id, slug)] = count
    rows = []
    for student in students:
        row = GradebookRow(user=student, max_total=sum(i.max_score for i in items))
        for quiz in quizzes:
            attempt = credited_attempt(quiz, student.id)
            row.scores[quiz.slug] = attempt.score or 0.0 if attempt is not None else None
            row.item_scores[f"quiz:{quiz.slug}"] = row.scores[quiz.slug]
            if attempt is None:
                continue
            for submission in latest_answers(attempt).values():
                if submission.status == SubmissionStatus.GRADED:
                    slug = submission.question.slug
                    best = row.question_scores.get(slug)
                    row.question_scores[slug] = max(best or 0.0, submission.score or 0.0)
                elif submission.status == SubmissionStatus.FAILED:
                    row.question_scores.setdefault(submission.question.slug, 0.0)
        for question in inside:
            row.question_scores.setdefault(question.slug, None)
            row.answer_counts[question.slug] = answer_counts.get((student.id, question.slug), 0)
        for question in linked:
            row.item_scores[f"question:{question.slug}"] = credited_standalone(question, student.id)
        row.total = sum(v or 0.0 for v in row.item_scores.values())
        rows.append(row)
    return Gradebook(course=course, items=items, questions=inside, students=rows)


def gradebook_csv(book: Gradebook) -> str:
    """One row per student: id, name, each quiz's credited score, each quiz question's score in
    it, each linked question's credited score, the total; the same numbers as the page."""
    out = io.StringIO()
    writer = csv.writer(out)  # names go through _safe_cell: see there
    quiz_slugs = [i.slug for i in book.quiz_items]
    question_slugs = [q.slug for q in book.questions]
    linked = [i.slug for i in book.items if i.kind == "question"]
    writer.writerow(
        ["user_id", "name", *(f"quiz:{s}" for s in quiz_slugs),
         *(f"question:{s}" for s in question_slugs), *(f"linked:{s}" for s in linked),
         "total", "max_total"]
    )  # fmt: skip

    def cell(value: float | None) -> str:
        return "" if value is None else f"{shown(value):.15g}"

    for row in book.students:
        writer.writerow(
            [row.user.id, _safe_cell(row.user.name),
             *(cell(row.scores[s]) for s in quiz_slugs),
             *(cell(row.question_scores[s]) for s in question_slugs),
             *(cell(row.item_scores[f"question:{s}"]) for s in linked),
             cell(row.total), cell(row.max_total)]
        )  # fmt: skip
    return out.getvalue()


# What makes a spreadsheet read a cell as a formula (or DDE): = + - @, tab and CR, and their
# full-width forms (which some East Asian spreadsheets fold to ASCII).
FORMULA_START = "=+-@\t\r\uff1d\uff0b\uff0d\uff20"
# Where a cell may start for some spreadsheet: at the text's start, or after any character a
# locale splits CSV on (`,` `;` tab) or a line break, an unquoted field in another locale's
# reading; spaces and quotes there may be dropped by the reader first.
_CELL_STARTS = re.compile(f'(^|[,;\t\r\n])([ "]*)(?=[{re.escape(FORMULA_START)}])')


def _safe_cell(text: str) -> str:
    """Text from users (names) as a cell no spreadsheet runs as a formula, whichever separator
    its locale splits on: `'` before a formula character at the start and after every `,` `;`
    tab or line break (`Mallory;=HYPERLINK(...)` is one cell for a `,` reader, but a `;`
    reader splits it and would see the second part start with `=`). The file itself stays
    plain CSV, quoted only where it must be: a reader of any separator sees no formula."""
    return _CELL_STARTS.sub(lambda m: m.group(1) + m.group(2) + "'", text)
