"""Server-rendered pages under /app: a question (with a code editor for exercises), a quiz and its
attempts, and an instructor's course page. Scripts only enhance them: every form works without.
"""

from __future__ import annotations

import re
from datetime import UTC
from pathlib import Path
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from markupsafe import Markup
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.wrappers import Response

from question_bank.qtypes import TEMPLATES as QTYPE_TEMPLATES
from question_bank.types import (
    SLUG_PATTERN,
    AnswerError,
    page_prompt,
    render_prompt,
    resolve,
    student_view,
    template,
)
from question_bank.types import (
    form_answer as type_form_answer,
)
from service import access
from service.access import Need
from service.attempts import (
    answer_question,
    attempt_answers,
    attempt_review,
    deadline,
    hand_in_if_expired,
    latest_answers,
    question_views,
    result_review,
    start_attempt,
    submit_attempt,
)
from service.errors import Problem
from service.jobs import dispatch
from service.models import (
    AttemptStatus,
    Course,
    CourseRole,
    Enrollment,
    Question,
    Quiz,
    QuizAttempt,
    QuizExtension,
    Role,
    Submission,
    SubmissionStatus,
    User,
    db,
)
from service.pages import charts
from service.pages.labs import lab_figure
from service.pages.render import markdown
from service.pages.sessions import (
    ENTER_COOKIE,
    LINK_PATH_COOKIE,
    check_csrf,
    check_enter_nonce,
    cookie_options,
    csrf_token,
    current_session,
    enter_nonce,
    find_sign_in_link,
    redeem_sign_in_link,
    require_session,
    sign_out,
)
from service.pages.stats import course_report
from service.questions import find_question
from service.quizzes import (
    closes_for,
    content_hidden,
    due_for,
    extension_for,
    is_assessment,
    quiz_max_score,
    review_allows,
    sealing_quiz,
    time_limit_for,
)
from service.regrades import override_score
from service.schemas import MAX_ID, UtcDateTime
from service.submissions import SETTLED, create_submission, standalone_variant

bp = Blueprint(
    "pages",
    __name__,
    url_prefix="/app",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
# Each question type's template lives beside its module (question_bank/qtypes/NAME.html) and is
# found here as "qtypes/NAME.html".
bp.jinja_loader = ChoiceLoader(
    [
        FileSystemLoader(str(Path(__file__).resolve().parent / "templates")),
        PrefixLoader({"qtypes": FileSystemLoader(str(QTYPE_TEMPLATES))}),
    ]
)
HISTORY_LIMIT = 20


bp.add_app_template_global(markdown, "markdown")
bp.add_app_template_global(template, "qtype_template")
bp.add_app_template_global(page_prompt, "page_prompt")
bp.add_app_template_global(lab_figure, "lab_figure")


@bp.errorhandler(Problem)
def _problem(exc: Problem) -> tuple[str, int]:
    title = exc.title or {401: "Please sign in", 403: "Not allowed", 404: "Not found"}.get(
        exc.status, "Something went wrong"
    )
    return render_template("error.html", title=title, detail=exc.detail), exc.status


def _render(template: str, **context: Any) -> str:
    browser = require_session()
    return render_template(template, user=browser.user, csrf=csrf_token(), **context)


def _question(slug: str) -> Question:
    require_session()
    question = find_question(slug)
    if question is None or not access.visible(Question, question.id):
        raise Problem(404, f"There is no question '{slug}'.")
    return question


def _quiz(slug: str) -> Quiz:
    require_session()
    missing = f"There is no quiz '{slug}'."
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise Problem(404, missing)
    return access.find(select(Quiz).where(Quiz.slug == slug), Need.VIEW, missing)


# --- signing in and out ------------------------------------------------------------------------


@bp.route("/enter/<key>")
def enter(key: str) -> Response:
    """A sign-in link (POST /api/v1/sign-in-links makes one): a page that asks to continue.
    Opening it changes nothing; only its form's POST signs in."""
    link = find_sign_in_link(key)
    current = current_session()
    page = render_template(
        "enter.html",
        title="Sign in",
        name=link.token.user.name,
        role=link.token.user.role.value,
        course=link.token.course.title if link.token.course else None,
        signed_in_as=current.user.name if current else None,
        nonce=enter_nonce(),
        user=None,
    )
    response = Response(page, mimetype="text/html")
    response.set_cookie(
        ENTER_COOKIE, enter_nonce(), max_age=600, path=LINK_PATH_COOKIE, **cookie_options()
    )
    return response


@bp.route("/enter/<key>", methods=["POST"])
def enter_confirmed(key: str) -> Response:
    """'Continue as NAME': use the link (once) and open a session with its token's scope."""
    find_sign_in_link(key)  # a used or expired link says so first
    check_enter_nonce(request.form.get("nonce"))
    _, next_path = redeem_sign_in_link(key)
    db.session.commit()
    response = redirect(next_path, code=303)
    response.delete_cookie(ENTER_COOKIE, path=LINK_PATH_COOKIE)
    return response


@bp.route("/sign-out", methods=["POST"])
def sign_out_view() -> str:
    check_csrf(request.form.get("csrf"))
    sign_out()
    db.session.commit()
    return render_template("error.html", title="Signed out", detail="You are signed out.")


@bp.route("/")
def home() -> str:
    require_session()
    quizzes = db.session.scalars(access.query(Quiz).order_by(Quiz.title)).all()
    exercises = db.session.scalars(
        access.query(Question)
        .where(Question.type == "code", Question.archived_at.is_(None))
        .order_by(Question.title)
    ).all()
    courses = list(db.session.scalars(access.query(Course, Need.STAFF).order_by(Course.title)))
    return _render("home.html", quizzes=quizzes, exercises=exercises, courses=courses)


# --- one question ------------------------------------------------------------------------------


def form_answer(question: Question, form: Any) -> Any:
    """The answer a question's form fields hold, in the shape the API takes (checked later)."""
    try:
        return type_form_answer(question.type, question.data, form, f"answer-{question.slug}")
    except AnswerError as exc:
        raise Problem(422, f"{question.title}: {exc}") from exc


def _starter(item: Question) -> str:
    return str(item.data.get("exercise", {}).get("starter", "")) if item.type == "code" else ""


def _readable(item: Question, browser: Any) -> None:
    """A student reads a question of an open assessment only in an attempt at it (its course's
    staff read it here)."""
    sealed = sealing_quiz(item, browser.user_id)
    if sealed is not None and not access.allows(Quiz, sealed, Need.STAFF):
        raise Problem(
            403,
            f"This question is part of the assessment “{sealed.title}”: it is shown only "
            "in an attempt at that quiz until the quiz closes.",
        )


@bp.route("/questions/<slug>")
def question(slug: str) -> str:
    browser = require_session()
    item = _question(slug)
    _readable(item, browser)
    history = db.session.scalars(
        select(Submission)
        .where(
            Submission.user_id == browser.user_id,
            Submission.question_id == item.id,
            Submission.attempt_id.is_(None),
        )
        .order_by(Submission.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    shown = None
    wanted = request.args.get("submission", type=int)
    if wanted is not None:
        shown = next((s for s in history if s.id == wanted), None)
        if shown is None:
            raise Problem(404, f"You have no submission {wanted} to this question.")
    elif history:
        shown = history[0]
    code = _starter(item)
    if item.type == "code" and shown is not None and isinstance(shown.answer, str):
        code = shown.answer
    variant = standalone_variant(browser.user, item)
    return _render(
        "question.html",
        question=item,
        prompt=render_prompt(item.prompt, variant),
        view=student_view(item.type, resolve(item.type, item.data, variant)),
        history=history,
        shown=shown,
        code=code,
        pending=shown is not None and shown.status not in SETTLED,
    )


@bp.route("/questions/<slug>", methods=["POST"])
def answer(slug: str) -> Response:
    """The form's answer, without scripts (with them, the page posts to the API)."""
    browser = require_session()
    check_csrf(request.form.get("csrf"))
    item = _question(slug)
    _readable(item, browser)
    value = form_answer(item, request.form)
    if value is None:
        raise Problem(422, "Give an answer before submitting.")
    submission = create_submission(browser.user, item, value)
    db.session.commit()
    dispatch([submission.id] if submission.status == SubmissionStatus.QUEUED else [])
    return redirect(
        url_for("pages.question", slug=slug, submission=submission.id) + "#result", code=303
    )


# --- quizzes -----------------------------------------------------------------------------------


@bp.route("/quizzes/<slug>")
def quiz(slug: str) -> str:
    browser = require_session()
    item = _quiz(slug)
    attempts = db.session.scalars(
        select(QuizAttempt)
        .where(QuizAttempt.quiz_id == item.id, QuizAttempt.user_id == browser.user_id)
        .order_by(QuizAttempt.number.desc())
    ).all()
    if any(hand_in_if_expired(a) for a in attempts):
        db.session.commit()  # an attempt whose time is up is shown handed in, never open
    open_attempt = next((a for a in attempts if a.status == AttemptStatus.IN_PROGRESS), None)
    staff = access.allows(Quiz, item, Need.STAFF)
    return _render(
        "quiz.html",
        quiz=item,
        attempts=attempts,
        attempt=open_attempt,
        questions=question_views(open_attempt) if open_attempt else [],
        deadline=deadline(open_attempt) if open_attempt else None,
        answers=_saved_answers(open_attempt) if open_attempt else {},
        hidden=content_hidden(item),
        assessment=is_assessment(item),
        due=due_for(item, browser.user_id),
        closes=closes_for(item, browser.user_id),
        time_limit=time_limit_for(item, browser.user_id),
        extension=extension_for(item, browser.user_id),
        max_score=quiz_max_score(item),
        staff=staff,
        teacher=staff and access.allows(Quiz, item, Need.TEACH),
        everyone=_all_attempts(item) if staff else [],
        extensions=list(
            db.session.scalars(
                access.query(QuizExtension)
                .where(QuizExtension.quiz_id == item.id)
                .order_by(QuizExtension.id)
            )
        )
        if staff
        else [],
        students=_students(item) if staff else [],
        review_score=lambda a: review_allows(a, "score"),
    )


def _all_attempts(item: Quiz) -> list[QuizAttempt]:
    return list(
        db.session.scalars(
            access.query(QuizAttempt)
            .where(QuizAttempt.quiz_id == item.id)
            .order_by(QuizAttempt.user_id, QuizAttempt.number)
        )
    )


def _students(item: Quiz) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(Enrollment, Enrollment.user_id == User.id)
            .where(
                Enrollment.course_id == item.course_id,
                Enrollment.role == CourseRole.STUDENT,
                User.role == Role.STUDENT,
            )
            .order_by(User.name)
        )
    )


def _saved_answers(attempt: QuizAttempt) -> dict[str, Any]:
    return {s.question.slug: s.answer for s in latest_answers(attempt).values()}


@bp.route("/quizzes/<slug>/extensions", methods=["POST"])
def extend(slug: str) -> Response:
    """An instructor gives one student extra time and/or a later due date (0 and empty: none)."""
    require_session()
    check_csrf(request.form.get("csrf"))
    item = _quiz(slug)
    access.require_on(Quiz, item, Need.TEACH)  # extensions are given by the course's instructors
    user_id = request.form.get("user", type=int) or 0
    student = db.session.get(User, user_id) if 1 <= user_id <= MAX_ID else None
    if student is None or student.role != Role.STUDENT:
        raise Problem(422, "Choose a student.")
    minutes = request.form.get("extra_minutes", type=int) or 0
    if not 0 <= minutes <= 10_000:
        raise Problem(422, "Extra minutes must be between 0 and 10000.")
    due_text = (request.form.get("due_at") or "").strip()
    due = None
    if due_text:
        try:  # the API's date and time field; the form's own (no offset) means UTC
            due = UtcDateTime(default_timezone=UTC).deserialize(due_text)
        except ValidationError as exc:
            raise Problem(422, f"'{due_text}' is not a date and time (UTC).") from exc
    extension = extension_for(item, student.id)
    if minutes == 0 and due is None:
        if extension is not None:
            db.session.delete(extension)
    else:
        if extension is None:
            extension = QuizExtension(quiz_id=item.id, user_id=student.id)
            db.session.add(extension)
        extension.extra_minutes = minutes
        extension.due_at = due
    db.session.commit()
    return redirect(url_for("pages.quiz", slug=slug) + "#extensions", code=303)


@bp.route("/quizzes/<slug>/attempts", methods=["POST"])
def start(slug: str) -> Response:
    browser = require_session()
    check_csrf(request.form.get("csrf"))
    start_attempt(browser.user, _quiz(slug))
    db.session.commit()
    return redirect(url_for("pages.quiz", slug=slug) + "#attempt", code=303)


def _own_attempt(attempt_id: int) -> QuizAttempt:
    browser = require_session()
    attempt: QuizAttempt | None = db.session.scalar(
        access.query(QuizAttempt).where(
            QuizAttempt.id == attempt_id, QuizAttempt.user_id == browser.user_id
        )
    )
    if attempt is None:
        raise Problem(404, f"You have no attempt {attempt_id}.")
    return attempt


def _viewable_attempt(attempt_id: int) -> QuizAttempt:
    """A student's own attempt, or any attempt of a course for its staff."""
    require_session()
    return access.get(QuizAttempt, attempt_id, what="attempt")


@bp.route("/attempts/<int:attempt_id>", methods=["POST"])
def save_attempt(attempt_id: int) -> Response:
    """Save the answers given; with 'submit', hand the attempt in."""
    check_csrf(request.form.get("csrf"))
    attempt = _own_attempt(attempt_id)
    if hand_in_if_expired(attempt):
        db.session.commit()
        raise Problem(
            409,
            "The time for this attempt ran out: it was handed in with the answers saved in time.",
        )
    saved = _saved_answers(attempt)
    queued = []
    for view in question_views(attempt):
        entry_question = view.question
        value = form_answer(entry_question, request.form)
        if value is None or value == [] or value == saved.get(entry_question.slug):
            continue
        if entry_question.type == "code" and value.strip() == _starter(entry_question).strip():
            continue  # the untouched starter code is no answer
        submission = answer_question(attempt, entry_question.slug, value)
        db.session.flush()
        if submission.status == SubmissionStatus.QUEUED:
            queued.append(submission.id)
    handed_in = request.form.get("action") == "submit"
    if handed_in:
        submit_attempt(attempt)
    db.session.commit()
    dispatch(queued)
    if handed_in:
        return redirect(url_for("pages.attempt", attempt_id=attempt.id), code=303)
    return redirect(url_for("pages.quiz", slug=attempt.quiz.slug) + "#attempt", code=303)


@bp.route("/attempts/<int:attempt_id>")
def attempt(attempt_id: int) -> str:
    """An attempt's review: each question as the student got it, their answer, and what the
    quiz's review options show now (instructors see everything, or `?view=student`)."""
    item = _viewable_attempt(attempt_id)
    if hand_in_if_expired(item):
        db.session.commit()
    instructor = access.allows(QuizAttempt, item, Need.STAFF)
    staff = instructor and request.args.get("view") != "student"
    latest = latest_answers(item)
    pending = [s.id for s in latest.values() if s.status not in SETTLED]
    shows = attempt_review(item, staff)
    return _render(
        "attempt.html",
        attempt=item,
        answers={a.question: a for a in attempt_answers(item, staff)},
        questions=question_views(item),
        latest={s.question.slug: s for s in latest.values()},
        pending=pending if shows["score"] else [],
        shows=shows,
        staff=staff,
        instructor=instructor,
        deadline=deadline(item),
    )


# --- instructors -------------------------------------------------------------------------------


@bp.route("/courses/<slug>")
def course(slug: str) -> str:
    require_session()
    missing = f"There is no course '{slug}'."
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise Problem(404, missing)
    item: Course = access.find(select(Course).where(Course.slug == slug), Need.STAFF, missing)
    report = course_report(item)
    return _render(
        "course.html",
        report=report,
        charts=_course_charts(report),
        lab_charts=_lab_charts(report),
    )


def _lab_charts(report: Any) -> list[Markup]:
    return [
        charts.histogram(
            lab.counts,
            f"{lab.title}: final validation loss of the class",
            bands=lab.labels,
            axis="final validation loss of each student's own run",
            measure="final validation loss",
            unit="",
        )
        for lab in report.labs
    ]


def _course_charts(report: Any) -> dict[str, Markup]:
    stats = report.questions

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.0%}"

    def num(value: float | None) -> str:
        return "—" if value is None else f"{value:+.2f}"

    top_attempts = max([s.mean_attempts or 0.0 for s in stats] + [1.0])
    return {
        "distribution": charts.histogram(report.histogram, "Distribution of total scores"),
        "difficulty": charts.bar_chart(
            [charts.Bar(s.title, s.difficulty, pct(s.difficulty)) for s in stats],
            "Difficulty: mean score fraction per question",
            0.0,
            1.0,
        ),
        "discrimination": charts.bar_chart(
            [charts.Bar(s.title, s.discrimination, num(s.discrimination)) for s in stats],
            "Discrimination: upper-lower 27% index per question",
            -1.0,
            1.0,
        ),
        "attempts": charts.bar_chart(
            [
                charts.Bar(
                    s.title,
                    s.mean_attempts,
                    "—" if s.mean_attempts is None else f"{s.mean_attempts:.1f}",
                )
                for s in stats
            ],
            "Mean attempts per student who answered",
            0.0,
            float(round(top_attempts + 0.5)),
        ),
    }


@bp.route("/submissions/<int:submission_id>")
def submission(submission_id: int) -> str:
    """One submission: its owner sees it as the review options allow; an instructor sees all
    of it, its grade history, and can override the score with a comment."""
    require_session()
    item = access.get(Submission, submission_id)  # one's own, or as staff of its course
    instructor = access.allows(Submission, item, Need.STAFF)
    staff = instructor and request.args.get("view") != "student"
    return _render(
        "submission.html",
        submission=item,
        shows=result_review(item, staff),
        staff=staff,
        instructor=instructor,
        teacher=staff and access.allows(Submission, item, Need.TEACH),
    )


@bp.route("/submissions/<int:submission_id>/override", methods=["POST"])
def override(submission_id: int) -> Response:
    browser = require_session()
    check_csrf(request.form.get("csrf"))
    item = access.get(Submission, submission_id, Need.TEACH)  # the course's instructors
    try:
        score = float((request.form.get("score") or "").replace(",", "."))
    except ValueError as exc:
        raise Problem(422, "The score must be a number.") from exc
    comment = (request.form.get("comment") or "").strip()
    if not comment:
        raise Problem(422, "Say why the score is overridden (the comment is kept).")
    override_score(item, score, comment[:2000], browser.user)
    db.session.commit()
    return redirect(url_for("pages.submission", submission_id=submission_id), code=303)
