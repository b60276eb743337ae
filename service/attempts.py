"""Quiz attempts: start within the quiz's window and attempt limit (drawing this attempt's
questions, choice order and variant values once), answer, hand in (by the student, or by the
background loop when the time is up), score, and what the review shows."""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, or_, select, update

from question_bank.types import (
    correct_answer,
    draw_variant,
    render_prompt,
    resolve,
    shuffled,
    student_view,
)
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
    rows_changed,
    utcnow,
)
from service.quizzes import (
    REVIEW_PARTS,
    attempt_deadline,
    closes_for,
    pool_questions,
    quiz_max_score,
    review_allows,
)
from service.submissions import create_submission

log = logging.getLogger("holdout.attempts")


def deadline(attempt: QuizAttempt) -> datetime | None:
    return attempt_deadline(attempt)


def enroll(user: User, course_id: int) -> None:
    exists = db.session.scalar(
        select(Enrollment.id).where(
            Enrollment.user_id == user.id, Enrollment.course_id == course_id
        )
    )
    if exists is None:
        db.session.add(Enrollment(user_id=user.id, course_id=course_id))


def _seed(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


def draw_layout(quiz: Quiz, user: User, number: int) -> dict[str, Any]:
    """This attempt's questions (fixed ones, then each pool's draw; shuffled if the quiz says
    so), each shuffled question's choice order and each variant's values: drawn from a seed of
    (quiz, student, attempt number), so the same attempt always gets the same quiz."""
    seed = _seed("attempt", quiz.id, user.id, number)
    rng = random.Random(seed)
    questions = [item.question for item in quiz.items]
    fixed = {q.slug for q in questions}
    for pool in quiz.pools or []:
        candidates = pool_questions(pool, fixed | {q.slug for q in questions}, quiz.course_id)
        questions += rng.sample(candidates, pool["draw"])
    if quiz.shuffle_questions:
        rng.shuffle(questions)
    choices: dict[str, list[str]] = {}
    params: dict[str, dict[str, float]] = {}
    for question in questions:
        order = shuffled(question.type, question.data, _seed(seed, "choices", question.slug))
        if order is not None:
            choices[question.slug] = order
        variant = draw_variant(question.data, _seed(seed, "params", question.slug))
        if variant is not None:
            params[question.slug] = variant
    return {"questions": [q.slug for q in questions], "choices": choices, "params": params}


def attempt_questions(attempt: QuizAttempt) -> list[Question]:
    """The attempt's questions in its own order (attempts older than layouts: the quiz's)."""
    if not attempt.layout:
        return [item.question for item in attempt.quiz.items]
    slugs = attempt.question_slugs()
    found = {
        q.slug: q for q in db.session.scalars(select(Question).where(Question.slug.in_(slugs)))
    }
    return [found[s] for s in slugs if s in found]


def variant_of(attempt: QuizAttempt, slug: str) -> dict[str, Any] | None:
    return ((attempt.layout or {}).get("params") or {}).get(slug)


@dataclass
class QuestionView:
    """A question as this attempt shows it: its student's values filled in, choices in order."""

    slug: str
    type: str
    title: str
    points: float
    prompt: str
    data: dict[str, Any]
    variant: dict[str, Any] | None
    question: Question


def question_views(attempt: QuizAttempt) -> list[QuestionView]:
    layout = attempt.layout or {}
    views = []
    for question in attempt_questions(attempt):
        variant = variant_of(attempt, question.slug)
        data = resolve(question.type, question.data, variant)
        order = (layout.get("choices") or {}).get(question.slug)
        views.append(
            QuestionView(
                slug=question.slug,
                type=question.type,
                title=question.title,
                points=question.points,
                prompt=render_prompt(question.prompt, variant),
                data=student_view(question.type, data, order),
                variant=variant,
                question=question,
            )
        )
    return views


def hand_in_if_expired(attempt: QuizAttempt, now: datetime | None = None) -> bool:
    """Hand in an open attempt whose time is up; True if this call did it."""
    limit = deadline(attempt)
    if attempt.status != AttemptStatus.IN_PROGRESS or limit is None or (now or utcnow()) < limit:
        return False
    return submit_attempt(attempt, ended_by="time", at=limit) is not None


def start_attempt(user: User, quiz: Quiz) -> tuple[QuizAttempt, bool]:
    """Return (attempt, created). An attempt still in progress is resumed, not duplicated; one
    whose time ran out is handed in first, and never returned as open."""
    now = utcnow()
    if quiz.opens_at and now < quiz.opens_at:
        raise Problem(409, f"Quiz '{quiz.slug}' opens at {quiz.opens_at.isoformat()}.")
    closes = closes_for(quiz, user.id)
    if closes and now >= closes:
        raise Problem(409, f"Quiz '{quiz.slug}' closed at {closes.isoformat()}.")
    attempts = db.session.scalars(
        select(QuizAttempt)
        .where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == user.id)
        .order_by(QuizAttempt.number)
    ).all()
    for attempt in attempts:
        if attempt.status == AttemptStatus.IN_PROGRESS and not hand_in_if_expired(attempt, now):
            return attempt, False
    if quiz.attempt_limit is not None and len(attempts) >= quiz.attempt_limit:
        raise Problem(
            409,
            f"All {quiz.attempt_limit} attempt(s) at quiz '{quiz.slug}' have been used.",
        )
    number = len(attempts) + 1
    layout = draw_layout(quiz, user, number)
    attempt = QuizAttempt(
        quiz=quiz,
        user=user,
        number=number,
        status=AttemptStatus.IN_PROGRESS,
        max_score=quiz_max_score(quiz),
        layout=layout,
    )
    db.session.add(attempt)
    enroll(user, quiz.course_id)
    return attempt, True


def _question_in(attempt: QuizAttempt, slug: str) -> Question:
    for question in attempt_questions(attempt):
        if question.slug == slug:
            return question
    raise Problem(404, f"Quiz '{attempt.quiz.slug}' has no question '{slug}' in this attempt.")


def hold_open(attempt: QuizAttempt) -> bool:
    """Take the attempt's row for the rest of this transaction if it is still open; False once
    it has been handed in (a moment ago, maybe, by another request or process).

    Answering and handing in both begin with this conditional UPDATE, so they exclude each
    other in the database (the house style of service.jobs.claim): on PostgreSQL the row lock
    makes the second one wait until the first commits and then re-check that the attempt is
    still open; on SQLite the first write takes the database's one write lock until commit. An
    answer is therefore either committed before the hand-in (which then counts it) or refused."""
    return (
        rows_changed(
            update(QuizAttempt)
            .where(QuizAttempt.id == attempt.id, QuizAttempt.status == AttemptStatus.IN_PROGRESS)
            .values(status=QuizAttempt.status)
        )
        == 1
    )


def _handed_in(attempt: QuizAttempt) -> Problem:
    db.session.refresh(attempt)
    if attempt.ended_by == "time" and attempt.submitted_at is not None:
        return Problem(
            409,
            f"The time for this attempt ran out at {attempt.submitted_at.isoformat()}; "
            "it was handed in with the answers given in time.",
        )
    return Problem(409, "This attempt has been submitted; start a new attempt to answer again.")


def answer_question(attempt: QuizAttempt, slug: str, answer: Any) -> Submission:
    """Record an answer in an open attempt, before its deadline; 409 otherwise. The attempt's
    row is held (`hold_open`) until the caller commits, and the answer's time is taken once the
    row is held: a hand-in waits for the answer and counts it, or the answer is refused."""
    if attempt.status != AttemptStatus.IN_PROGRESS or not hold_open(attempt):
        raise _handed_in(attempt)
    now = utcnow()
    limit = deadline(attempt)
    if limit is not None and now >= limit:
        raise Problem(409, f"The time for this attempt ran out at {limit.isoformat()}.")
    question = _question_in(attempt, slug)
    return create_submission(
        attempt.user, question, answer, attempt=attempt, variant=variant_of(attempt, slug), at=now
    )


def counted_answers(attempt: QuizAttempt) -> list[Submission]:
    """The attempt's answers that count, oldest first: every one while it is open; once handed
    in, those given at or before its hand-in (`submitted_at`, which is never later than the
    deadline unless an accepted answer was, see `submit_attempt`). Answering and handing in
    exclude each other, so nothing is stored later; should anything ever be, it never counts
    (score, review, gradebook, rescoring)."""
    cutoff = attempt.submitted_at
    return [s for s in attempt.submissions if cutoff is None or s.created_at <= cutoff]


def latest_answers(attempt: QuizAttempt) -> dict[int, Submission]:
    """The last counted answer to each question in the attempt (earlier ones are kept, not
    counted)."""
    latest: dict[int, Submission] = {}
    for submission in counted_answers(attempt):
        latest[submission.question_id] = submission
    return latest


def score_attempt(attempt: QuizAttempt) -> float:
    return sum((s.score or 0.0) for s in latest_answers(attempt).values())


def submit_attempt(
    attempt: QuizAttempt, ended_by: str = "student", at: datetime | None = None
) -> QuizAttempt | None:
    """Hand in an attempt, exactly once: the conditional UPDATE of `hold_open`, so a student's
    click and the background loop at the deadline (in any process) cannot both hand it in, and
    an answer being saved meanwhile is committed first (and counted) or refused after. Returns
    None if it was already handed in by someone else.

    `submitted_at` is the hand-in's moment (`at`, the deadline, for the background loop), taken
    once the row is held and never later than the deadline; but never earlier than an answer
    that was accepted, whatever the clocks of the processes that took them (an answer that got
    a 2xx always counts)."""
    if attempt.status == AttemptStatus.SUBMITTED or not hold_open(attempt):
        db.session.refresh(attempt)
        return attempt if ended_by == "student" else None
    moment = at or utcnow()
    limit = deadline(attempt)
    if at is None and limit is not None and moment >= limit:
        moment, ended_by = limit, "time"  # the click came after the time ran out
    last_answer = db.session.scalar(
        select(func.max(Submission.created_at)).where(Submission.attempt_id == attempt.id)
    )
    if last_answer is not None and last_answer > moment:
        moment = last_answer
    rows_changed(
        update(QuizAttempt)
        .where(QuizAttempt.id == attempt.id)
        .values(status=AttemptStatus.SUBMITTED, submitted_at=moment, ended_by=ended_by)
    )
    db.session.refresh(attempt)
    db.session.expire(attempt, ["submissions"])  # read again: all that were accepted
    attempt.score = score_attempt(attempt)
    db.session.flush()
    publish(AttemptHandedIn(attempt_id=attempt.id, user_id=attempt.user_id))
    return attempt


def expired_attempts(now: datetime | None = None, limit: int = 200) -> list[int]:
    """Ids of open attempts whose deadline has passed. Swept every second in every process while
    an exam runs, so the database is asked only for attempts past the deadline they would have
    without an extension (extensions only ever add time: their extra minutes are at least 0 and
    their due date only moves the close later); only those cost a look at their extension."""
    now = now or utcnow()
    timed = db.session.scalars(
        select(Quiz).where(or_(Quiz.time_limit_minutes.is_not(None), Quiz.closes_at.is_not(None)))
    ).all()
    past = []
    for quiz in timed:
        if quiz.closes_at is not None and now >= quiz.closes_at:
            past.append(QuizAttempt.quiz_id == quiz.id)
        elif quiz.time_limit_minutes:
            started_before = now - timedelta(minutes=quiz.time_limit_minutes)
            past.append(
                (QuizAttempt.quiz_id == quiz.id) & (QuizAttempt.started_at <= started_before)
            )
    if not past:
        return []
    candidates = db.session.scalars(
        select(QuizAttempt)
        .where(QuizAttempt.status == AttemptStatus.IN_PROGRESS, or_(*past))
        .order_by(QuizAttempt.id)
        .limit(5000)
    ).all()
    due = []
    for attempt in candidates:
        limit_at = deadline(attempt)
        if limit_at is not None and now >= limit_at:
            due.append(attempt.id)
    return due[:limit]


def hand_in_expired(now: datetime | None = None) -> int:
    """Hand in every open attempt whose time is up: scored, in the gradebook, sent to the LMS.
    Each in its own transaction; safe to run in many processes at once."""
    done = 0
    for attempt_id in expired_attempts(now):
        attempt = db.session.get(QuizAttempt, attempt_id)
        if attempt is not None and hand_in_if_expired(attempt, now):
            done += 1
            log.info("attempt handed in at its deadline", extra={"attempt_id": attempt_id})
        db.session.commit()
    return done


def run_attempt_background(app: Flask) -> int:
    """One pass of the background loop (embedded executor and worker sweeper alike)."""
    with app.app_context():
        try:
            return hand_in_expired()
        except Exception:
            log.exception("handing in expired attempts failed")
            db.session.rollback()
            return 0
        finally:
            db.session.remove()


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


# How often the background loop looks for attempts whose time is up: within seconds of it.
EXPIRY_SWEEP_SECONDS = 1.0


def schedule(app: Flask) -> None:
    """Register the hand-in of expired attempts as periodic work (run by whichever process
    grades: the API processes in the embedded default, `holdout worker` when scaled out)."""
    from service import background

    background.register(app, "expired-attempts", EXPIRY_SWEEP_SECONDS, hand_in_expired)


@dataclass
class AnswerView:
    question: str
    answered: bool
    answer: Any
    score: float | None
    max_score: float
    feedback: str | None
    explanation: str | None
    correct_answer: Any = None
    variant: dict[str, Any] | None = None
    # Which parts of this question's review show (the per-test results and a lab's curves
    # follow "feedback"); not in the API's AttemptAnswer, which shows them by their nulls.
    shown: dict[str, bool] = field(default_factory=dict)


NOTHING = {part: False for part in REVIEW_PARTS}


def review_of(attempt: QuizAttempt, staff: bool = False) -> dict[str, bool]:
    """Which parts of the review this viewer sees now: staff everything, students what the
    quiz's review options allow. Per question a seal may hide more (`sealed_outside`), and the
    attempt's total score with it (`attempt_review`)."""
    return {part: staff or review_allows(attempt, part) for part in REVIEW_PARTS}


def sealed_outside(user_id: int, questions: list[Question], quiz_id: int | None) -> set[int]:
    """The ids of these questions that an assessment other than this quiz (`quiz_id`; None for
    answers given on their own) seals for this student now (service.quizzes.sealing_quiz): for
    them, nothing here may show the student the question's score, feedback, correct answer or
    explanation, whatever this quiz's review options say, until the sealing assessment closes
    for them. Otherwise a practice quiz holding an exam's question would show its key while the
    exam runs. An assessment's own attempts follow its own review options. A few queries for
    all the questions at once, once per request."""
    sealed = sealing_outside(user_id, questions, quiz_id)
    return {question_id for question_id, quizzes in sealed.items() if quizzes}


def sealing_outside(
    user_id: int, questions: list[Question], quiz_id: int | None
) -> dict[int, list[Quiz]]:
    """`sealed_outside` with the sealing assessments themselves, by question id (who may see
    past a seal depends on whose they are: service.access.sees_past_seal)."""
    from service.quizzes import sealing_quizzes

    return sealing_quizzes(questions, user_id, besides=quiz_id)


def attempt_review(attempt: QuizAttempt, staff: bool = False) -> dict[str, bool]:
    """The attempt as a whole (its total score, its `review`): `review_of`, except that for the
    student the total score is hidden while any of its questions is sealed outside it
    (`sealed_outside`): with the other questions' scores shown, the total would tell the sealed
    one's."""
    shows = review_of(attempt, staff)
    questions = attempt_questions(attempt) if shows["score"] and not staff else []
    if questions and sealed_outside(attempt.user_id, questions, attempt.quiz_id):
        return {**shows, "score": False}
    return shows


def result_review(submission: Submission, staff: bool = False) -> dict[str, bool]:
    """Which parts of one submission's result this viewer sees now, wherever it is shown (the
    submission, its grade history, the pages): all of them outside a quiz attempt; inside one,
    what `review_of` its attempt says. "score" is every score; "feedback" is the feedback text,
    the per-test results, a lab's curves and an override's comment (it may name the right
    answer); "explanation" the question's explanation; "correct_answer" the answer key. The
    student sees none of them while an assessment other than the attempt's quiz seals the
    question for them (`sealed_outside`); staff as `question_review` says."""
    attempt = submission.attempt
    quiz_id = attempt.quiz_id if attempt else None
    sealing = sealing_outside(submission.user_id, [submission.question], quiz_id)
    return question_review(attempt, submission.question, sealing[submission.question.id], staff)


def question_review(
    attempt: QuizAttempt | None, question: Question, sealing: list[Quiz], staff: bool
) -> dict[str, bool]:
    """Which parts of one question's review (in this attempt, or None: answered on its own) a
    viewer sees, given the assessments that seal it for the attempt's student (`sealing`).

    The student: nothing while it is sealed; else everything on its own, and in an attempt what
    its quiz's review options allow (`review_of`). Staff see every score (they grade with them,
    as their gradebook does), and the feedback, explanation and key too, except: what a seal
    withholds from the student only staff who may see past that seal see
    (service.access.sees_past_seal: site staff and the sealing assessments' own courses' staff;
    never an LMS token or another course's staff, who would otherwise read an open exam's key
    through their own course's quiz); and staff whose answer keys these are not
    (service.access.sees_answer_keys) see the explanation and the key as the student does."""
    from service import access

    if sealing:
        student = dict(NOTHING)
    elif attempt is None:
        student = {part: True for part in REVIEW_PARTS}
    else:
        student = review_of(attempt)
    if not staff:
        return student
    if not access.sees_past_seal(sealing):
        return {**student, "score": True}
    everything = {part: True for part in REVIEW_PARTS}
    if access.sees_answer_keys(question):
        return everything
    return {
        **everything,
        "explanation": student["explanation"],
        "correct_answer": student["correct_answer"],
    }


def attempt_answers(attempt: QuizAttempt, staff: bool = False) -> list[AnswerView]:
    """Per question: what was answered, and what the review options let the viewer see
    (`question_review`; the seals asked once for all the questions). Staff see everything,
    except the correct answer and explanation of a question whose answer keys are not theirs
    (service.access.sees_answer_keys), and the feedback too of one sealed by an assessment they
    may not see past: those they see as the student does. The student sees nothing of the
    review of a question sealed outside this attempt (`sealed_outside`)."""
    latest = latest_answers(attempt)
    questions = attempt_questions(attempt)
    sealing = sealing_outside(attempt.user_id, questions, attempt.quiz_id)
    views = []
    for question in questions:
        submission = latest.get(question.id)
        variant = variant_of(attempt, question.slug)
        key = correct_answer(question.type, resolve(question.type, question.data, variant))
        shown = question_review(attempt, question, sealing[question.id], staff)
        views.append(
            AnswerView(
                question=question.slug,
                answered=submission is not None,
                answer=submission.answer if submission else None,
                score=(submission.score or 0.0 if submission else 0.0) if shown["score"] else None,
                max_score=question.points,
                feedback=submission.feedback if shown["feedback"] and submission else None,
                explanation=question.explanation if shown["explanation"] else None,
                correct_answer=key if shown["correct_answer"] else None,
                variant=variant,
                shown=shown,
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
