"""Server-rendered pages under /app: a question (with a code editor for exercises), a quiz and its
attempts, and an instructor's course page. Scripts only enhance them: every form works without.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from question_bank.types import SLUG_PATTERN, student_view
from service import access
from service.access import Need
from service.attempts import (
    answer_question,
    attempt_answers,
    deadline,
    results_visible,
    start_attempt,
    submit_attempt,
)
from service.errors import Problem
from service.jobs import dispatch
from service.models import (
    AttemptStatus,
    Course,
    Question,
    Quiz,
    QuizAttempt,
    Submission,
    SubmissionStatus,
    db,
)
from service.pages import charts
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
from service.submissions import SETTLED, create_submission

bp = Blueprint(
    "pages",
    __name__,
    url_prefix="/app",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
HISTORY_LIMIT = 20


bp.add_app_template_global(markdown, "markdown")


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
    name = f"answer-{question.slug}"
    if question.type == "multiple_choice":
        return form.getlist(name)
    raw = form.get(name)
    if raw is None or raw == "":
        return None
    if question.type == "true_false":
        return raw == "true"
    if question.type == "numeric":
        try:
            return float(raw.strip().replace(",", "."))
        except ValueError as exc:
            raise Problem(422, f"'{raw}' is not a number.") from exc
    return raw


def _starter(item: Question) -> str:
    return str(item.data.get("exercise", {}).get("starter", "")) if item.type == "code" else ""


@bp.route("/questions/<slug>")
def question(slug: str) -> str:
    browser = require_session()
    item = _question(slug)
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
    return _render(
        "question.html",
        question=item,
        view=student_view(item.type, item.data),
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
    open_attempt = next((a for a in attempts if a.status == AttemptStatus.IN_PROGRESS), None)
    views = {q.question.slug: student_view(q.question.type, q.question.data) for q in item.items}
    return _render(
        "quiz.html",
        quiz=item,
        attempts=attempts,
        attempt=open_attempt,
        views=views,
        deadline=deadline(open_attempt) if open_attempt else None,
        answers=_saved_answers(open_attempt) if open_attempt else {},
    )


def _saved_answers(attempt: QuizAttempt) -> dict[str, Any]:
    return {view.question: view.answer for view in attempt_answers(attempt) if view.answered}


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


@bp.route("/attempts/<int:attempt_id>", methods=["POST"])
def save_attempt(attempt_id: int) -> Response:
    """Save the answers given; with 'submit', hand the attempt in."""
    check_csrf(request.form.get("csrf"))
    attempt = _own_attempt(attempt_id)
    saved = _saved_answers(attempt)
    queued = []
    for entry in attempt.quiz.items:
        value = form_answer(entry.question, request.form)
        if value is None or value == [] or value == saved.get(entry.question.slug):
            continue
        if entry.question.type == "code" and value.strip() == _starter(entry.question).strip():
            continue  # the untouched starter code is no answer
        submission = answer_question(attempt, entry.question.slug, value)
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
    item = _own_attempt(attempt_id)
    latest = {s.question_id: s for s in item.submissions}
    pending = [s.id for s in latest.values() if s.status not in SETTLED]
    return _render(
        "attempt.html",
        attempt=item,
        answers=attempt_answers(item),
        latest={s.question.slug: s for s in latest.values()},
        titles={entry.question.slug: entry.question.title for entry in item.quiz.items},
        pending=pending,
        visible=results_visible,
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
    )


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
