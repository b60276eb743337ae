"""Creating and changing quizzes (an ordered list of existing questions in a course, plus pools
drawn per attempt), and the rules that make a quiz an assessment: who may see and answer what,
when, and for how long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import g, has_request_context
from sqlalchemy import String, cast, event, func, or_, select

from question_bank.loader import ASSESSMENT_SETTINGS
from service.errors import Problem
from service.models import (
    AttemptStatus,
    Course,
    Enrollment,
    Question,
    Quiz,
    QuizAttempt,
    QuizExtension,
    QuizQuestion,
    ReviewTime,
    ScorePolicy,
    db,
    utcnow,
)

_T = TypeVar("_T")

REVIEW_PARTS = ("score", "feedback", "correct_answer", "explanation")


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
    pools = [dict(p) for p in fields.get("pools") or []]
    existing = db.session.scalar(select(Course.id).where(Course.slug == fields["course"]))
    for pool in pools:
        # 422 unless the pool can be drawn from (in this course: a new one draws only shared ones)
        pool_questions(pool, exclude=set(slugs), course_id=existing)
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
    quiz.practice = bool(fields.get("practice", False))
    review = fields.get("review") or {}
    for part in REVIEW_PARTS:
        setattr(quiz, f"review_{part}", ReviewTime(review.get(part, ReviewTime.AFTER_SUBMIT)))
    quiz.shuffle_questions = bool(fields.get("shuffle_questions", False))
    # Authority is kept by what stays, and given by who adds (service.access.has_authority).
    from service import access

    site = access.acts_for_site()
    kept = set(quiz.granted_pools or []) & {p["tag"] for p in quiz.pools or []}
    quiz.granted_pools = [p["tag"] for p in pools if site or p["tag"] in kept]
    quiz.pools = pools
    quiz.updated_at = utcnow()
    granted = {item.question.slug: item.granted for item in quiz.items}
    current = [item.question.slug for item in quiz.items]
    if current != slugs:
        quiz.items.clear()
        db.session.flush()  # delete the old rows before inserting rows with the same pairs
        quiz.items.extend(
            QuizQuestion(question=found[slug], position=i) for i, slug in enumerate(slugs)
        )
    for item in quiz.items:
        item.granted = granted.get(item.question.slug, False) or access.has_authority(item.question)
    return quiz


def quiz_fields(quiz: Quiz) -> dict[str, Any]:
    """A quiz as the API writes it (what a revision keeps and a restore puts back)."""
    return {
        "slug": quiz.slug,
        "title": quiz.title,
        "description": quiz.description,
        "course": quiz.course.slug,
        "questions": [item.question.slug for item in quiz.items],
        "opens_at": quiz.opens_at.isoformat() if quiz.opens_at else None,
        "due_at": quiz.due_at.isoformat() if quiz.due_at else None,
        "closes_at": quiz.closes_at.isoformat() if quiz.closes_at else None,
        "late_penalty": quiz.late_penalty,
        "cooldown_seconds": quiz.cooldown_seconds,
        "score_policy": str(quiz.score_policy),
        "attempt_limit": quiz.attempt_limit,
        "time_limit_minutes": quiz.time_limit_minutes,
        "practice": quiz.practice,
        "review": review_settings(quiz),
        "shuffle_questions": quiz.shuffle_questions,
        "pools": list(quiz.pools or []),
    }


def review_settings(quiz: Quiz) -> dict[str, str]:
    return {part: str(getattr(quiz, f"review_{part}")) for part in REVIEW_PARTS}


# --- pools ---------------------------------------------------------------------------------------


def pool_questions(
    pool: dict[str, Any], exclude: set[str], course_id: int | None
) -> list[Question]:
    """The questions a pool of a quiz in this course draws from: tagged, not archived, not
    already fixed in the quiz, and the shared bank's or the course's own (never another
    course's, whoever wrote the quiz). A pool must hold at least `draw` of them, all worth the
    same points, so every student's attempt has the same maximum."""
    tag, count = pool["tag"], pool["draw"]
    candidates = [
        q
        for q in db.session.scalars(
            select(Question)
            .where(
                Question.archived_at.is_(None),
                cast(Question.tags, String).contains(f'"{tag}"'),
                drawable_in(course_id),
            )
            .order_by(Question.slug)
        )
        if tag in q.tags and q.slug not in exclude
    ]
    if len(candidates) < count:
        raise Problem(
            422,
            f"The pool tagged '{tag}' has {len(candidates)} question(s) of the shared bank or "
            f"this course outside the quiz's own list; it cannot draw {count}.",
        )
    points = {q.points for q in candidates}
    if len(points) > 1:
        raise Problem(
            422,
            f"The questions tagged '{tag}' are worth different points ({sorted(points)}): "
            "students drawing different ones would have different maximum scores.",
        )
    return candidates


def drawable_in(course_id: int | None) -> Any:
    """The questions a pool of a quiz in this course may draw: the shared bank's and its own."""
    if course_id is None:
        return Question.course_id.is_(None)
    return or_(Question.course_id.is_(None), Question.course_id == course_id)


def quiz_max_score(quiz: Quiz) -> float:
    fixed = sum(item.question.points for item in quiz.items)
    drawn = 0.0
    for pool in quiz.pools or []:
        try:
            candidates = pool_questions(pool, {i.question.slug for i in quiz.items}, quiz.course_id)
        except Problem:
            continue
        drawn += pool["draw"] * candidates[0].points
    return fixed + drawn


# --- time: windows, due dates, time limits, extensions ------------------------------------------


def extension_for(quiz: Quiz, user_id: int) -> QuizExtension | None:
    """This student's extension on the quiz. Within a request it is looked up once: an attempt's
    deadline, due date and time limit all ask for it, several times per answer."""
    if not has_request_context():
        return _load_extension(quiz.id, user_id)
    known: dict[tuple[int, int], QuizExtension | None] = g.setdefault("extensions", {})
    key = (quiz.id, user_id)
    if key not in known:
        known[key] = _load_extension(quiz.id, user_id)
    return known[key]


def _forget_extensions(*_: Any) -> None:
    """An extension was written (by the API, a page or anything else): look them up again."""
    if has_request_context():
        g.pop("extensions", None)


for _write in ("after_insert", "after_update", "after_delete"):
    event.listen(QuizExtension, _write, _forget_extensions)


def _load_extension(quiz_id: int, user_id: int) -> QuizExtension | None:
    return db.session.scalar(
        select(QuizExtension).where(
            QuizExtension.quiz_id == quiz_id, QuizExtension.user_id == user_id
        )
    )


def due_for(quiz: Quiz, user_id: int) -> datetime | None:
    """When this student's answers start losing the late penalty."""
    extension = extension_for(quiz, user_id)
    if extension is not None and extension.due_at is not None:
        return extension.due_at
    return quiz.due_at


def closes_for(quiz: Quiz, user_id: int) -> datetime | None:
    """When the quiz closes for this student: a due date extended past the close moves it."""
    extension = extension_for(quiz, user_id)
    if extension is not None and extension.due_at is not None and quiz.closes_at is not None:
        return max(quiz.closes_at, extension.due_at)
    return quiz.closes_at


def time_limit_for(quiz: Quiz, user_id: int) -> timedelta | None:
    if not quiz.time_limit_minutes:
        return None
    extension = extension_for(quiz, user_id)
    extra = extension.extra_minutes if extension is not None else 0
    return timedelta(minutes=quiz.time_limit_minutes + extra)


def attempt_deadline(attempt: QuizAttempt) -> datetime | None:
    """When answers stop being accepted: the time limit or the quiz's close, whichever is first."""
    candidates = [closes_for(attempt.quiz, attempt.user_id)]
    limit = time_limit_for(attempt.quiz, attempt.user_id)
    if limit is not None:
        candidates.append(attempt.started_at + limit)
    present = [c for c in candidates if c is not None]
    return min(present) if present else None


def late_penalty_for(attempt: QuizAttempt | None, now: datetime | None = None) -> float:
    if attempt is None:
        return 0.0
    due = due_for(attempt.quiz, attempt.user_id)
    if due is None or (now or utcnow()) <= due:
        return 0.0
    return attempt.quiz.late_penalty


# --- practice vs assessment ----------------------------------------------------------------------


def is_assessment(quiz: Quiz) -> bool:
    """A quiz with a window, an attempt limit or a time limit counts, unless marked practice
    (question_bank.loader.is_assessment: the same rule for the bank's files)."""
    return not quiz.practice and any(getattr(quiz, name) for name in ASSESSMENT_SETTINGS)


def content_hidden(quiz: Quiz, now: datetime | None = None) -> bool:
    """Before it opens, a quiz shows students no questions."""
    return quiz.opens_at is not None and (now or utcnow()) < quiz.opens_at


def holding_assessments(question: Question) -> list[tuple[Quiz, bool]]:
    """The assessments that hold this question (in their list, or in a pool that may draw it),
    each with whether it holds it with authority (service.access.has_authority): put there by
    someone with authority over it, or the quiz's course's own question."""
    return _holding([question])[question.id]


def _holding(questions: Iterable[Question]) -> dict[int, list[tuple[Quiz, bool]]]:
    """`holding_assessments` of many questions at once (by question id): one query for the
    quizzes that list them, and the quizzes with pools (once per request), whatever their number."""
    return {
        question_id: [(quiz, granted) for quiz, granted in pairs if is_assessment(quiz)]
        for question_id, pairs in _holders(questions).items()
    }


def _holders(questions: Iterable[Question]) -> dict[int, list[tuple[Quiz, bool]]]:
    """Every quiz that holds each of these questions (by question id), assessment or not, with
    whether it holds it with authority (`holding_assessments`)."""
    by_id = {question.id: question for question in questions}
    held: dict[int, list[tuple[Quiz, bool]]] = {question_id: [] for question_id in by_id}
    if not by_id:
        return held
    for quiz, question_id, granted in db.session.execute(
        select(Quiz, QuizQuestion.question_id, QuizQuestion.granted)
        .join(QuizQuestion, QuizQuestion.quiz_id == Quiz.id)
        .where(QuizQuestion.question_id.in_(by_id))
    ).all():
        question = by_id[question_id]
        held[question_id].append((quiz, granted or question.course_id == quiz.course_id))
    pooled = _known("pooled", _quizzes_with_pools)
    for question in by_id.values():
        for quiz in pooled:
            if question.course_id is not None and question.course_id != quiz.course_id:
                continue  # a pool never draws another course's questions
            tags = [pool["tag"] for pool in quiz.pools or [] if pool["tag"] in question.tags]
            if tags:
                granted = question.course_id == quiz.course_id or any(
                    tag in (quiz.granted_pools or []) for tag in tags
                )
                held[question.id].append((quiz, granted))
    return held


def _quizzes_with_pools() -> list[Quiz]:
    return list(db.session.scalars(select(Quiz).where(cast(Quiz.pools, String) != "[]")))


def _known(key: Any, load: Callable[[], _T]) -> _T:
    """What sealing asks the database, once per request (`seals` in flask.g, forgotten when a
    quiz, its questions, a question, an enrollment or an extension is written)."""
    if not has_request_context():
        return load()
    known: dict[Any, Any] = g.setdefault("seals", {})
    if key not in known:
        known[key] = load()
    return known[key]


def _forget_seals(*_: Any) -> None:
    if has_request_context():
        g.pop("seals", None)


for _model in (Quiz, QuizQuestion, Question, Enrollment, QuizExtension):
    for _write in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _write, _forget_seals)


def _courses_of(user_id: int) -> set[int]:
    return set(
        db.session.scalars(select(Enrollment.course_id).where(Enrollment.user_id == user_id))
    )


def _load_extensions(quizzes: Iterable[Quiz], user_id: int) -> None:
    """Read this student's extensions on these quizzes in one query into the request's cache
    (`extension_for`), for those it does not know yet."""
    if not has_request_context():
        return
    known: dict[tuple[int, int], QuizExtension | None] = g.setdefault("extensions", {})
    missing = {quiz.id for quiz in quizzes if (quiz.id, user_id) not in known}
    if not missing:
        return
    found = {
        extension.quiz_id: extension
        for extension in db.session.scalars(
            select(QuizExtension).where(
                QuizExtension.quiz_id.in_(missing), QuizExtension.user_id == user_id
            )
        )
    }
    for quiz_id in missing:
        known[(quiz_id, user_id)] = found.get(quiz_id)


def sealing_quiz(question: Question, user_id: int, now: datetime | None = None) -> Quiz | None:
    """An assessment that holds this question (in its list or a pool), has not closed for this
    student and is relevant to them: until then, the question is answered and read in full
    only in an attempt. An assessment holding the question with authority (its own course's
    question, or put there by site staff) seals it for every student; one that merely uses a
    shared question seals it only for the members of its course, so no course locks the shared
    bank for the rest of the site. Its attempts being used up does not end the seal: only the
    close does (for this student: an extension's later due date moves it)."""
    found = sealing_quizzes([question], user_id, now)[question.id]
    return found[0] if found else None


def sealing_quizzes(
    questions: Iterable[Question],
    user_id: int,
    now: datetime | None = None,
    besides: int | None = None,
) -> dict[int, list[Quiz]]:
    """For each question (by id), every assessment that seals it for this student now, by the
    rule of `sealing_quiz`, leaving out the quiz `besides` (the one whose attempt is reviewed:
    service.attempts.sealed_outside). What a review asks of a whole attempt at once: a few
    queries whatever the number of questions, and once per question within a request."""
    questions = list(questions)
    if now is not None or not has_request_context():
        return _sealing(questions, user_id, now or utcnow(), besides)
    known: dict[Any, Any] = g.setdefault("seals", {})
    keys = {q.id: ("sealed", user_id, besides, q.id) for q in questions}
    found = {question_id: known[key] for question_id, key in keys.items() if key in known}
    missing = [q for q in questions if q.id not in found]
    if missing:
        fresh = _sealing(missing, user_id, utcnow(), besides)
        found.update(fresh)
        known = g.setdefault("seals", {})  # a write flushed meanwhile may have emptied it
        known.update({keys[question_id]: quizzes for question_id, quizzes in fresh.items()})
    return found


def _sealing(
    questions: list[Question], user_id: int, now: datetime, besides: int | None
) -> dict[int, list[Quiz]]:
    held = {
        question_id: [(quiz, granted) for quiz, granted in pairs if quiz.id != besides]
        for question_id, pairs in _holding(questions).items()
    }
    # Only a quiz with a close has one that an extension may move (closes_for).
    closing = {quiz for pairs in held.values() for quiz, _ in pairs if quiz.closes_at is not None}
    _load_extensions(closing, user_id)
    courses: set[int] | None = None  # this student's courses, read once if needed
    sealed: dict[int, list[Quiz]] = {}
    for question_id, pairs in held.items():
        sealed[question_id] = []
        for quiz, granted in pairs:
            closes = closes_for(quiz, user_id) if quiz in closing else None
            if closes is not None and now >= closes:
                continue
            if not granted:
                if courses is None:
                    courses = _known(("courses", user_id), lambda: _courses_of(user_id))
                if quiz.course_id not in courses:
                    continue
            if quiz not in sealed[question_id]:
                sealed[question_id].append(quiz)
    return sealed


def open_for_anyone(quiz: Quiz, now: datetime | None = None) -> bool:
    """Whether an assessment is still open for some student (an extension may keep it open)."""
    now = now or utcnow()
    if quiz.closes_at is None or now < quiz.closes_at:
        return True
    extended = db.session.scalar(
        select(func.max(QuizExtension.due_at)).where(QuizExtension.quiz_id == quiz.id)
    )
    return extended is not None and now < extended


def sealed_elsewhere(question: Question, course_id: int | None) -> Quiz | None:
    """An open assessment of another course that holds this question (what a course's
    instructor may not take into their own quizzes: service.access.may_add)."""
    for quiz, _granted in holding_assessments(question):
        if quiz.course_id != course_id and open_for_anyone(quiz):
            return quiz
    return None


def review_warnings(quiz: Quiz) -> list[str]:
    """What this quiz's questions in common with other quizzes (those the caller may see) cost
    their reviews, for the author who saves it (the API's `warnings`; never a refusal): while an
    assessment is open, a question it holds shows the students it seals it for no score,
    feedback, key or explanation in any other quiz that holds it too (service.attempts.
    sealed_outside). So: for an assessment, the other quizzes holding its questions; for any
    other quiz, the open assessments holding its questions."""
    from service import access

    questions = [item.question for item in quiz.items]
    listed = {question.slug for question in questions}
    for pool in quiz.pools or []:
        with suppress(Problem):  # a pool too small to draw was refused when saved
            drawn = pool_questions(pool, listed, quiz.course_id)
            questions += [question for question in drawn if question not in questions]
    holders = _holders(questions)
    others = {other.id for pairs in holders.values() for other, _ in pairs} - {quiz.id}
    visible = set(
        db.session.scalars(select(Quiz.id).where(Quiz.id.in_(others), access.scoped(Quiz)))
        if others
        else []
    )
    assessment = is_assessment(quiz) and open_for_anyone(quiz)
    shared: dict[str, tuple[Quiz, set[str]]] = {}
    for question in questions:
        for other, _granted in holders[question.id]:
            if other.id not in visible:
                continue
            if assessment or (is_assessment(other) and open_for_anyone(other)):
                shared.setdefault(other.slug, (other, set()))[1].add(question.slug)
    warnings = []
    for slug, (other, slugs) in sorted(shared.items()):
        several = len(slugs) > 1
        named = ", ".join(sorted(slugs))
        which, their = (
            (f"questions {named} are", "their") if several else (f"question {named} is", "its")
        )
        if assessment:
            warnings.append(
                f"{which} also in {_kind(other)} {slug}: {their} review there is withheld from "
                "students while this assessment is open"
            )
        else:
            warnings.append(
                f"{which} also in assessment {slug}: {their} review here is withheld from "
                "students while it is open"
            )
    return warnings


def _kind(quiz: Quiz) -> str:
    if is_assessment(quiz):
        return "assessment"
    return "practice quiz" if quiz.practice else "quiz"


def review_allows(attempt: QuizAttempt, part: str, now: datetime | None = None) -> bool:
    """Whether the student may see this part of the attempt's review now (score, feedback,
    correct_answer, explanation), by the quiz's review option for it: `immediately` always,
    `after_submit` once the attempt is handed in, `never` never, and `after_due` once the
    attempt is handed in, the student's due date (or else the close) has passed, and they can
    no longer earn marks on the quiz (`may_still_earn_marks`). `after_due` waits for the end: a
    key shown while the same student may still start an attempt (late, with a penalty, before
    the close; attempts left with no dates at all) would be answered in that attempt."""
    when = ReviewTime(getattr(attempt.quiz, f"review_{part}"))
    if when == ReviewTime.IMMEDIATELY:
        return True
    if when == ReviewTime.NEVER or attempt.status != AttemptStatus.SUBMITTED:
        return False
    if when == ReviewTime.AFTER_DUE:
        now = now or utcnow()
        due = due_for(attempt.quiz, attempt.user_id) or closes_for(attempt.quiz, attempt.user_id)
        if due is not None and now < due:
            return False
        return not may_still_earn_marks(attempt.quiz, attempt.user_id, now)
    return True


def may_still_earn_marks(quiz: Quiz, user_id: int, now: datetime | None = None) -> bool:
    """Whether this student may still add to their marks on this quiz: an attempt of theirs is
    open (before its deadline), or they may start another (the quiz has not closed for them,
    extensions included, and the attempt limit is not reached). Asked by every review of the
    quiz's attempts: once per quiz and student within a request, forgotten when an attempt or
    an extension is written."""
    now = now or utcnow()
    if not has_request_context():
        return _may_still_earn_marks(quiz, user_id, now)
    known: dict[tuple[int, int], bool] = g.setdefault("earning", {})
    key = (quiz.id, user_id)
    if key not in known:
        known[key] = _may_still_earn_marks(quiz, user_id, now)
    return known[key]


def _may_still_earn_marks(quiz: Quiz, user_id: int, now: datetime) -> bool:
    attempts = db.session.scalars(
        select(QuizAttempt).where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == user_id)
    ).all()
    for attempt in attempts:
        if attempt.status == AttemptStatus.IN_PROGRESS:
            limit = attempt_deadline(attempt)
            if limit is None or now < limit:
                return True
    closes = closes_for(quiz, user_id)
    if closes is not None and now >= closes:
        return False
    return quiz.attempt_limit is None or len(attempts) < quiz.attempt_limit


def _forget_earning(*_: Any) -> None:
    if has_request_context():
        g.pop("earning", None)


for _model in (Quiz, QuizAttempt, QuizExtension):
    for _write in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _write, _forget_earning)
