"""What a caller may see and do, by course: the one place that decides it.

Every query that returns course data is built from `scoped(model, need)` (or `query`, `get`,
which use it); no endpoint checks a course on its own. A caller (service.auth.Principal) has a
site role and, for a token or session limited to one course, that course. What it may do in a
course comes from:

- `admin` (site administrator): everything, everywhere; alone manages other users' tokens and
  the LTI platforms.
- an `instructor` token without a course (made by the command line): every course, and the
  site's shared question bank (as before course roles existed).
- an `lms` token: reads every course's students' work and gradebooks, or one course's if scoped.
- a caller limited to a course (a course-scoped token, a sign-in link from one, an LTI launch):
  only that course, with its membership role there (instructor, teaching_assistant, student).
- a student: every quiz, the shared questions and the own questions of the courses they are
  enrolled in (a token or session limited to a course: that course's), and only their own work.

Needs: VIEW (quizzes, questions, one's own work), STAFF (the students' work and gradebook of a
course: instructors, teaching assistants, lms tokens) and TEACH (author a course's quizzes,
questions and webhooks, regrade: instructors only). A course instructor authors the questions
of their course, never the site's shared bank. TEACH on a piece of student work (overriding or
regrading a submission) needs it in every course that work counts in (`_submissions_wholly_in`):
a standalone answer may count in several courses, and none of them rewrites another's grade.

Authority over a question (`has_authority`) is the one rule behind answer keys
(`sees_answer_keys`), what goes into a quiz (`may_add`) and whom an assessment seals
(service.quizzes.sealing_quiz): site staff over every question, a course's staff over their
course's own questions; using a shared question gives none, unless someone with authority put it
in the course's quiz (recorded when added: QuizQuestion.granted, Quiz.granted_pools).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, TypeVar, cast

from flask import g, has_request_context
from sqlalchemy import ColumnElement, Select, String, exists, false, or_, select, true
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import aliased

from service.auth import Principal, current_principal
from service.errors import Problem
from service.models import (
    ApiToken,
    Course,
    CourseRole,
    Enrollment,
    Grade,
    Question,
    Quiz,
    QuizAttempt,
    QuizExtension,
    QuizQuestion,
    Regrade,
    Role,
    Submission,
    Webhook,
    WebhookDelivery,
    db,
)
from service.schemas import MAX_ID

T = TypeVar("T")


class Need(enum.Enum):
    VIEW = "view"
    STAFF = "staff"
    TEACH = "teach"
    ADMIN = "admin"


ALL = None  # "every course", as a course set
Courses = frozenset[int] | None
STAFF_ROLES = (CourseRole.INSTRUCTOR, CourseRole.TEACHING_ASSISTANT)
NEEDED_ROLES = {
    Need.STAFF: STAFF_ROLES,
    Need.TEACH: (CourseRole.INSTRUCTOR,),
}


def principal() -> Principal:
    return current_principal()


def is_admin() -> bool:
    return principal().role == Role.ADMIN


def site_staff() -> bool:
    """An administrator, or an instructor not limited to a course: the whole site."""
    who = principal()
    return who.role == Role.ADMIN or (who.role == Role.INSTRUCTOR and who.course_id is None)


def course_role(course_id: int) -> CourseRole | None:
    """The caller's membership role in a course (looked up once per request)."""
    cache: dict[int, CourseRole | None] = g.setdefault("course_roles", {})
    if course_id not in cache:
        cache[course_id] = db.session.scalar(
            select(Enrollment.role).where(
                Enrollment.user_id == principal().user_id, Enrollment.course_id == course_id
            )
        )
    return cache[course_id]


def courses(need: Need) -> Courses:
    """The courses in which the caller has this need: ALL (None) or a set of ids."""
    who = principal()
    if who.role == Role.ADMIN or (who.role == Role.INSTRUCTOR and who.course_id is None):
        return ALL if need != Need.ADMIN or who.role == Role.ADMIN else frozenset()
    if need == Need.ADMIN:
        return frozenset()
    if who.role == Role.LMS:
        if need == Need.TEACH:
            return frozenset()
        return ALL if who.course_id is None else frozenset({who.course_id})
    if need == Need.VIEW:
        if who.course_id is None or who.role == Role.STUDENT:
            return ALL  # quizzes are open to every student (they enrol on their first attempt)
        return frozenset({who.course_id})
    wanted = NEEDED_ROLES[need]
    if who.course_id is not None:
        return frozenset({who.course_id}) if course_role(who.course_id) in wanted else frozenset()
    if who.role == Role.STUDENT:
        return frozenset()  # a student token never acts as staff, whatever else the user is
    return frozenset(
        db.session.scalars(
            select(Enrollment.course_id).where(
                Enrollment.user_id == who.user_id, Enrollment.role.in_(wanted)
            )
        )
    )


def question_courses() -> Courses:
    """The courses whose own questions (besides the shared bank's) the caller may read: for a
    student, the courses they are enrolled in, or only the one their token or session is
    limited to; for everyone else, the courses they may VIEW. Quizzes are open to every
    student, but a course's questions that are in none of them (say, drafts for next week's
    exam) are not: answering them on one's own would fish their keys before the exam seals
    them. A student's question outside these is not shown to exist (404)."""
    who = principal()
    if who.role != Role.STUDENT:
        return courses(Need.VIEW)
    if who.course_id is not None:
        return frozenset({who.course_id})
    return frozenset(
        db.session.scalars(select(Enrollment.course_id).where(Enrollment.user_id == who.user_id))
    )


def _in(column: Any, allowed: Courses) -> ColumnElement[bool]:
    if allowed is ALL:
        return true()
    if not allowed:
        return false()
    return column.in_(sorted(allowed))


# Further ways a course uses a question (LTI registers its links: service.lti).
QUESTION_SOURCES: list[Any] = []


def course_questions(ids: Sequence[Any]) -> Any:
    """Ids of the questions courses use: in their quizzes, or from a registered source (the
    questions linked from their LMS course). `ids` are course ids, or a column holding one (a
    correlated subquery: `_submissions_wholly_in`)."""
    in_quizzes = (
        select(QuizQuestion.question_id)
        .join(Quiz, Quiz.id == QuizQuestion.quiz_id)
        .where(Quiz.course_id.in_(ids))
    )
    sources = [source(ids) for source in QUESTION_SOURCES]
    return in_quizzes.union(*sources) if sources else in_quizzes


def _uses(question: Question, allowed: Courses) -> bool:
    if allowed is ALL:
        return True
    if not allowed:
        return False
    found = db.session.scalar(
        select(Question.id).where(
            Question.id == question.id, Question.id.in_(course_questions(sorted(allowed)))
        )
    )
    return found is not None


def _submissions_in(allowed: Courses) -> ColumnElement[bool]:
    """Submissions of these courses (what their staff read): in an attempt at one of their
    quizzes, or standalone to a question one of them holds (`course_questions`) by a student
    enrolled there. A standalone answer thus belongs to every course that holds the question
    and enrols its student (service.courses.submission_course_ids: the same rule, row by row)."""
    if allowed is ALL:
        return true()
    if not allowed:
        return false()
    ids = sorted(allowed)
    attempts = select(QuizAttempt.id).join(Quiz).where(Quiz.course_id.in_(ids))
    questions = course_questions(ids)
    students = select(Enrollment.user_id).where(Enrollment.course_id.in_(ids))
    return or_(
        Submission.attempt_id.in_(attempts),
        Submission.attempt_id.is_(None)
        & Submission.question_id.in_(questions)
        & Submission.user_id.in_(students),
    )


def _submissions_wholly_in(allowed: Courses) -> ColumnElement[bool]:
    """Submissions that count in these courses and in no other: what a write (an override, a
    regrade: anything that changes a grade and so fires grade events, webhooks and LMS
    passback) may touch with authority over these courses. A standalone answer to a shared
    question counts in every course of `_submissions_in` (a course that links it from its LMS,
    another whose quiz lists it); one course's instructor must not rewrite the grade another
    course credits, so such an answer needs authority over all of them. Reading stays with
    each of those courses' staff (`_submissions_in`)."""
    if allowed is ALL or not allowed:
        return _submissions_in(allowed)
    other = aliased(Enrollment)  # its own name: the outer query may join enrollments too
    counted_elsewhere = exists(
        select(other.id).where(
            other.user_id == Submission.user_id,
            other.course_id.not_in(sorted(allowed)),
            Submission.question_id.in_(course_questions([other.course_id])),
        )
    )
    return _submissions_in(allowed) & ~(Submission.attempt_id.is_(None) & counted_elsewhere)


def _own_or_staff(owner: Any, staff_filter: ColumnElement[bool]) -> ColumnElement[bool]:
    return or_(owner == principal().user_id, staff_filter)


def _question(need: Need) -> ColumnElement[bool]:
    if need == Need.VIEW:
        return or_(Question.course_id.is_(None), _in(Question.course_id, question_courses()))
    return _in(Question.course_id, courses(need))


def _quiz_of_staff() -> Any:
    return select(Quiz.id).where(_in(Quiz.course_id, courses(Need.STAFF)))


# The registry: for each model, which rows a caller with a need may touch. For student work
# (attempts, submissions, grades) VIEW means "one's own, or as staff of its course".
RULES: dict[type, Any] = {
    Course: lambda need: _in(Course.id, courses(need)),
    Quiz: lambda need: _in(Quiz.course_id, courses(need)),
    Question: _question,
    QuizAttempt: lambda need: (
        _own_or_staff(QuizAttempt.user_id, QuizAttempt.quiz_id.in_(_quiz_of_staff()))
        if need == Need.VIEW
        else QuizAttempt.quiz_id.in_(select(Quiz.id).where(_in(Quiz.course_id, courses(need))))
    ),
    Submission: lambda need: (
        _own_or_staff(Submission.user_id, _submissions_in(courses(Need.STAFF)))
        if need == Need.VIEW
        else _submissions_in(courses(need))
        if need == Need.STAFF
        else _submissions_wholly_in(courses(need))  # TEACH: writes (override, regrade)
    ),
    Grade: lambda need: Grade.submission_id.in_(
        select(Submission.id).where(RULES[Submission](need))
    ),
    QuizExtension: lambda need: (
        _own_or_staff(QuizExtension.user_id, QuizExtension.quiz_id.in_(_quiz_of_staff()))
        if need == Need.VIEW
        else QuizExtension.quiz_id.in_(select(Quiz.id).where(_in(Quiz.course_id, courses(need))))
    ),
    Webhook: lambda need: _in(Webhook.course_id, courses(Need.TEACH)),
    WebhookDelivery: lambda need: WebhookDelivery.webhook_id.in_(
        select(Webhook.id).where(_in(Webhook.course_id, courses(Need.TEACH)))
    ),
    Regrade: lambda need: or_(
        Regrade.requested_by_id == principal().user_id,
        Regrade.question_id.in_(select(Question.id).where(_question(Need.TEACH))),
    ),
    ApiToken: lambda need: true() if is_admin() else _own_tokens_within_scope(),
}


def _own_tokens_within_scope() -> ColumnElement[bool]:
    """The tokens a caller other than an administrator lists and revokes: its user's own, and
    for a credential limited to a course (a course token, a session from one, an LTI launch's
    session) only those limited to that same course, never a broader one (site-wide, another
    course's): a course's credential must not see or end what its user may do elsewhere."""
    who = principal()
    own = ApiToken.user_id == who.user_id
    return own if who.course_id is None else own & (ApiToken.course_id == who.course_id)


def register(model: type, rule: Any) -> None:
    """Add a model's rule (the LTI tables register theirs)."""
    RULES[model] = rule


def scoped(model: type, need: Need = Need.VIEW) -> ColumnElement[bool]:
    """The filter of the rows of this model the caller may touch with this need."""
    return cast(ColumnElement[bool], RULES[model](need))


def course_submissions(course_id: int) -> ColumnElement[bool]:
    """The submissions of one course that the caller sees as its staff (what its statistics
    count): none outside the caller's scope, whatever course is asked for."""
    return scoped(Submission, Need.STAFF) & _submissions_in(frozenset({course_id}))


def query(model: type, need: Need = Need.VIEW) -> Select[Any]:
    return select(model).where(scoped(model, need))


def visible(model: type, ident: int) -> bool:
    """Whether the caller may see this row."""
    found = db.session.scalar(
        select(model.id).where(model.id == ident, scoped(model))  # type: ignore[attr-defined]
    )
    return found is not None


def get(model: type[T], ident: int, need: Need = Need.VIEW, what: str | None = None) -> T:
    """The row with this id if the caller may see it (else 404) and has the need (else 403)."""
    name = what or model.__name__.lower()
    row = None
    if 1 <= ident <= MAX_ID:
        identity: Any = model
        row = db.session.scalar(query(model, Need.VIEW).where(identity.id == ident))
    if row is None:
        raise Problem(404, f"No {name} {ident}.")
    require_on(model, row, need)
    return cast(T, row)


def find(statement: Select[Any], need: Need, missing: str) -> Any:
    """The one row a lookup (by slug) names, if the caller may see it (else 404) and has the
    need (else 403)."""
    model = statement.column_descriptions[0]["entity"]
    row = db.session.scalar(statement.where(scoped(model, Need.VIEW)))
    if row is None:
        raise Problem(404, missing)
    require_on(model, row, need)
    return row


def allows(model: type, row: Any, need: Need) -> bool:
    """Whether the caller has this need on a row it may see (what a page shows staff)."""
    if need == Need.VIEW:
        return True
    allowed = db.session.scalar(
        select(model.id).where(model.id == row.id, scoped(model, need))  # type: ignore[attr-defined]
    )
    return allowed is not None


def require_on(model: type, row: Any, need: Need) -> None:
    if not allows(model, row, need):
        raise Problem(403, _refusal(need))


def require_course(course_id: int | None, need: Need) -> None:
    """Refuse (403) an action in a course (None: on the site's shared things) without the need."""
    allowed = courses(need)
    if allowed is ALL:
        return
    if course_id is None or course_id not in allowed:
        raise Problem(403, _refusal(need))


def require_site(need: Need = Need.ADMIN) -> None:
    """Refuse (403) unless the caller acts for the whole site: admin (ADMIN), or admin or a
    site-wide instructor (TEACH)."""
    if courses(need) is not ALL:
        raise Problem(403, _refusal(need))


def authoring_course() -> int | None:
    """The course a new question belongs to: none (the shared bank) for site staff, else the
    one course the caller teaches."""
    allowed = courses(Need.TEACH)
    if allowed is ALL:
        return None
    if principal().course_id is not None and principal().course_id in allowed:
        return principal().course_id
    if len(allowed) == 1:
        return next(iter(allowed))
    raise Problem(403, _refusal(Need.TEACH))


def require_regrade(question: Question) -> None:
    """A question may be regraded by its authors, and by the instructors of a course whose
    quizzes use it (for that course's submissions only)."""
    teach = courses(Need.TEACH)
    if teach is ALL or question.course_id in teach or _uses(question, teach):
        return
    raise Problem(403, _refusal(Need.TEACH))


def acts_for_site() -> bool:
    """Whether the caller acts for the whole site: site staff (admin, an instructor without a
    course), or no caller at all (the command line, `bank load`)."""
    return not has_request_context() or courses(Need.TEACH) is ALL


def has_authority(question: Question, need: Need = Need.TEACH) -> bool:
    """Authority over a question, the one concept behind answer keys, adding to quizzes and
    sealing: site staff have it over every question; a course's instructors (TEACH), and for
    reading also its teaching assistants (STAFF), over their course's own questions. The shared
    bank's questions are the site staff's alone: a course that uses one does not get authority
    over it, unless someone with authority put it in the course's quiz (QuizQuestion.granted,
    Quiz.granted_pools, recorded when added)."""
    if acts_for_site():
        return True
    allowed = courses(need)
    return allowed is ALL or (question.course_id is not None and question.course_id in allowed)


def _granted_in(question: Question, allowed: Courses) -> bool:
    """Whether someone with authority put this question in a quiz of these courses (in its list,
    or as a pool that draws it)."""
    if not allowed:
        return False
    quizzes = select(Quiz.id).where(_in(Quiz.course_id, allowed))
    listed = db.session.scalar(
        select(QuizQuestion.id)
        .where(
            QuizQuestion.question_id == question.id,
            QuizQuestion.granted.is_(True),
            QuizQuestion.quiz_id.in_(quizzes),
        )
        .limit(1)
    )
    if listed is not None:
        return True
    pooled = db.session.scalars(
        select(Quiz).where(
            _in(Quiz.course_id, allowed), sql_cast(Quiz.granted_pools, String) != "[]"
        )
    )
    return any(
        (question.course_id is None or question.course_id == quiz.course_id)
        and any(tag in question.tags for tag in quiz.granted_pools or [])
        and any(pool["tag"] in question.tags for pool in quiz.pools or [])
        for quiz in pooled
    )


def sees_answer_keys(question: Question) -> bool:
    """Who has authority over a question sees its keys (data in full, explanation), and so do
    the staff of a course into whose quiz someone with authority put it, except while an open
    assessment of a course they are not staff of holds it with authority (it seals the question
    for every student: `sees_past_seal`). Merely using a question (listing it in one's own quiz,
    drawing it in a pool, linking it from the LMS) shows none."""
    if has_request_context() and principal().role == Role.LMS:
        return False  # an LMS syncs grades; it never needs the keys
    if has_authority(question, Need.STAFF):
        return True
    if not has_request_context():
        return _granted_keys(question)
    # Asked for every field of every row a page shows (a submission's score, feedback, key...):
    # its queries once per question and request, as `course_role` does.
    known: dict[int, bool] = g.setdefault("granted_keys", {})
    if question.id not in known:
        known[question.id] = _granted_keys(question)
    return known[question.id]


def _granted_keys(question: Question) -> bool:
    if not _granted_in(question, courses(Need.STAFF)):
        return False
    from service.quizzes import holding_assessments, open_for_anyone

    sealing_everyone = [
        quiz for quiz, granted in holding_assessments(question) if granted and open_for_anyone(quiz)
    ]
    return sees_past_seal(sealing_everyone)


def sees_past_seal(sealing: list[Quiz]) -> bool:
    """Whether the caller may see what these open assessments' seal withholds from a student:
    the key, explanation and feedback of a question they hold (service.quizzes.sealing_quiz).
    Site staff may, and the staff of every one of these assessments' courses; an LMS token
    never (it never sees keys), nor the staff of any other course: they would read an open
    exam's key through their own course's quiz, or a student's answer elsewhere, that holds the
    same question (and they see those quizzes' reviews as staff)."""
    if not sealing:
        return True
    if has_request_context() and principal().role == Role.LMS:
        return False
    if acts_for_site():
        return True
    staff_of = courses(Need.STAFF)
    return staff_of is ALL or all(quiz.course_id in staff_of for quiz in sealing)


def may_add(question: Question, course_id: int | None) -> str | None:
    """Why the caller may not put this question into a quiz of this course (None: they may).
    Site staff may put any question into any quiz. Anyone else: their course's own questions,
    and shared questions that no open assessment of another course holds (that course's exam
    stays its own while it runs; the question may be added once it closes). Another course's
    questions are never theirs to add."""
    if acts_for_site() or (question.course_id is not None and question.course_id == course_id):
        return None
    if question.course_id is not None:
        return f"'{question.slug}' belongs to another course."
    from service.quizzes import sealed_elsewhere

    if sealed_elsewhere(question, course_id) is not None:
        return (
            f"'{question.slug}' is in an open assessment of another course; it can be put in "
            "this course's quizzes once that assessment closes."
        )
    return None


def _refusal(need: Need) -> str:
    return {
        Need.VIEW: "You may not see this.",
        Need.STAFF: "This needs a staff role (instructor or teaching assistant) in the course.",
        Need.TEACH: "This needs an instructor of the course (or a site-wide instructor).",
        Need.ADMIN: "This needs a site administrator.",
    }[need]
