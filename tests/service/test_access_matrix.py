"""Who may see and do what: every endpoint of the OpenAPI document and every page route, walked as
each kind of caller, through bearer tokens and through browser sessions (sign-in links, and the
session an LTI launch opens), against another course's data and against the caller's own course.

A new endpoint or page route fails these tests until it is given its expectation below.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.auth import get_or_create_user, issue_token, make_member
from service.lti.models import LtiPlatform
from service.models import (
    CourseRole,
    Enrollment,
    Quiz,
    QuizAttempt,
    Regrade,
    Role,
    Submission,
    SubmissionStatus,
    Webhook,
    db,
)
from service.questions import save_question
from service.quizzes import get_or_create_course, save_quiz
from service.revisions import record
from tests.service.samples import SINGLE

ADMIN, SITE, TEACHER, TA, ALICE, LMS, LMS_A = (
    "admin",
    "site-instructor",
    "course-instructor",
    "teaching-assistant",
    "student",
    "lms",
    "lms-course-a",
)
ACTORS = [ADMIN, SITE, TEACHER, TA, ALICE, LMS, LMS_A]
EVERYONE = set(ACTORS)
NOBODY: set[str] = set()
SITE_STAFF = {ADMIN, SITE}
# Course B (not the scoped callers' course): who may see it, who is its staff.
VIEW_B = {ADMIN, SITE, ALICE, LMS}  # students see every course's quizzes, not its students' work
STAFF_B = {ADMIN, SITE, LMS}
# Course B's own questions: not its quizzes, open to every student; a student reads the shared
# bank's and their own courses' questions only (alice is course A's).
QUESTIONS_B = {ADMIN, SITE, LMS}
# Course A: the course instructor's, the TA's, alice's and the scoped lms token's.
STAFF_A = {ADMIN, SITE, TEACHER, TA, LMS, LMS_A}
TEACH_A = {ADMIN, SITE, TEACHER}

# (method, OpenAPI path) -> (who gets through for course B's objects, for course A's). "Through"
# means the answer is not 401, 403 or 404.
EXPECTED: dict[tuple[str, str], tuple[set[str], set[str]]] = {
    ("GET", "/api/v1/me"): (EVERYONE, EVERYONE),
    ("GET", "/api/v1/tokens"): (EVERYONE, EVERYONE),
    ("POST", "/api/v1/tokens"): ({ADMIN}, {ADMIN}),
    ("DELETE", "/api/v1/tokens/{token_id}"): ({ADMIN}, {ADMIN, ALICE}),
    ("GET", "/api/v1/courses"): (EVERYONE, EVERYONE),
    ("POST", "/api/v1/courses"): (SITE_STAFF, SITE_STAFF),
    ("GET", "/api/v1/courses/{slug}"): (VIEW_B, EVERYONE),
    ("GET", "/api/v1/courses/{slug}/gradebook"): (STAFF_B, STAFF_A),
    ("GET", "/api/v1/courses/{slug}/gradebook.csv"): (STAFF_B, STAFF_A),
    ("GET", "/api/v1/questions"): (EVERYONE, EVERYONE),
    ("POST", "/api/v1/questions"): (SITE_STAFF | {TEACHER}, SITE_STAFF | {TEACHER}),
    # Import and export (service/api/interop.py): an import lands in the caller's course (site
    # staff: the shared bank); an export holds only the answer keys the caller sees.
    ("POST", "/api/v1/questions/import"): (SITE_STAFF | {TEACHER}, SITE_STAFF | {TEACHER}),
    ("GET", "/api/v1/questions/export"): (SITE_STAFF | {TEACHER, TA}, SITE_STAFF | {TEACHER, TA}),
    ("GET", "/api/v1/questions/{slug}"): (QUESTIONS_B, EVERYONE),
    ("PUT", "/api/v1/questions/{slug}"): (SITE_STAFF, TEACH_A),
    ("DELETE", "/api/v1/questions/{slug}"): (SITE_STAFF, TEACH_A),
    ("POST", "/api/v1/questions/{slug}/submissions"): (QUESTIONS_B, EVERYONE),
    ("GET", "/api/v1/submissions/{submission_id}"): (STAFF_B, STAFF_A | {ALICE}),
    ("GET", "/api/v1/submissions"): (EVERYONE, EVERYONE),
    ("GET", "/api/v1/quizzes"): (EVERYONE, EVERYONE),
    ("POST", "/api/v1/quizzes"): (SITE_STAFF, TEACH_A),
    ("GET", "/api/v1/quizzes/{slug}"): (VIEW_B, EVERYONE),
    ("PUT", "/api/v1/quizzes/{slug}"): (SITE_STAFF, TEACH_A),
    ("POST", "/api/v1/quizzes/{slug}/attempts"): ({ALICE}, {ALICE}),
    ("GET", "/api/v1/quizzes/{slug}/attempts"): (VIEW_B, EVERYONE),
    ("GET", "/api/v1/attempts/{attempt_id}"): (STAFF_B, STAFF_A | {ALICE}),
    ("PUT", "/api/v1/attempts/{attempt_id}/answers/{question}"): (NOBODY, {ALICE}),
    ("POST", "/api/v1/attempts/{attempt_id}/submit"): (NOBODY, {ALICE}),
    ("POST", "/api/v1/questions/{slug}/regrades"): (SITE_STAFF, TEACH_A),
    ("GET", "/api/v1/regrades/{regrade_id}"): (SITE_STAFF, TEACH_A),
    ("GET", "/api/v1/submissions/{submission_id}/grades"): (STAFF_B, STAFF_A | {ALICE}),
    ("POST", "/api/v1/courses/{slug}/webhooks"): (SITE_STAFF, TEACH_A),
    ("GET", "/api/v1/courses/{slug}/webhooks"): (SITE_STAFF, TEACH_A),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): (SITE_STAFF, TEACH_A),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): (SITE_STAFF, TEACH_A),
    ("GET", "/api/v1/lti/platforms"): ({ADMIN}, {ADMIN}),
    ("POST", "/api/v1/lti/platforms"): ({ADMIN}, {ADMIN}),
    ("GET", "/api/v1/lti/score-deliveries"): ({ADMIN}, {ADMIN}),
    # LTI Advantage (issue 14): platforms and registration links are the site administrator's;
    # a course's LMS roster is its staff's (a course without one answers 409).
    ("GET", "/api/v1/lti/platforms/{platform_id}"): ({ADMIN}, {ADMIN}),
    ("PATCH", "/api/v1/lti/platforms/{platform_id}"): ({ADMIN}, {ADMIN}),
    ("DELETE", "/api/v1/lti/platforms/{platform_id}"): ({ADMIN}, {ADMIN}),
    ("POST", "/api/v1/lti/registration-links"): ({ADMIN}, {ADMIN}),
    ("GET", "/api/v1/courses/{slug}/roster"): (STAFF_B, STAFF_A),
    ("POST", "/api/v1/courses/{slug}/roster/sync"): (STAFF_B, STAFF_A),
    ("POST", "/api/v1/sign-in-links"): (EVERYONE, EVERYONE),
    # Assessments (issue 12): revisions hold answer keys (those who see them read them; the
    # authors restore); extensions and overrides are the course instructors', read by its staff.
    ("GET", "/api/v1/questions/{slug}/revisions"): (SITE_STAFF, SITE_STAFF | {TEACHER, TA}),
    ("POST", "/api/v1/questions/{slug}/revisions/{number}/restore"): (SITE_STAFF, TEACH_A),
    ("GET", "/api/v1/quizzes/{slug}/revisions"): (STAFF_B, STAFF_A),
    ("POST", "/api/v1/quizzes/{slug}/revisions/{number}/restore"): (SITE_STAFF, TEACH_A),
    ("GET", "/api/v1/quizzes/{slug}/extensions"): (STAFF_B, STAFF_A),
    ("PUT", "/api/v1/quizzes/{slug}/extensions/{user_id}"): (SITE_STAFF, TEACH_A),
    ("DELETE", "/api/v1/quizzes/{slug}/extensions/{user_id}"): (SITE_STAFF, TEACH_A),
    ("POST", "/api/v1/submissions/{submission_id}/override"): (SITE_STAFF, TEACH_A),
}
# What a student reads once enrolled in the course (the questions of course B).
ENROLLED_READ = {
    ("GET", "/api/v1/questions"),
    ("GET", "/api/v1/questions/{slug}"),
    ("POST", "/api/v1/questions/{slug}/submissions"),
}
# Probes, and /metrics (its own HOLDOUT_METRICS_TOKEN or a local connection; no course data).
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
# List endpoints: whose answers include the target course's object (the key it is found by).
LISTED: dict[str, tuple[str, set[str], set[str]]] = {
    "/api/v1/tokens": ("token", {ADMIN}, {ADMIN, ALICE}),
    "/api/v1/courses": ("course", VIEW_B, EVERYONE),
    "/api/v1/questions": ("question", QUESTIONS_B, EVERYONE),
    "/api/v1/submissions": ("submission", STAFF_B, STAFF_A | {ALICE}),
    "/api/v1/quizzes": ("quiz", VIEW_B, EVERYONE),
    "/api/v1/quizzes/{slug}/attempts": ("attempt", STAFF_B, STAFF_A | {ALICE}),
}
# Page routes (rule) -> (through for course B's objects, for course A's), for a session.
PAGES: dict[tuple[str, str], tuple[set[str], set[str]]] = {
    ("GET", "/app/"): (EVERYONE, EVERYONE),
    ("GET", "/app/questions/<slug>"): (QUESTIONS_B, EVERYONE),
    ("POST", "/app/questions/<slug>"): (QUESTIONS_B, EVERYONE),
    ("GET", "/app/quizzes/<slug>"): (VIEW_B, EVERYONE),
    ("POST", "/app/quizzes/<slug>/attempts"): (VIEW_B, EVERYONE),
    # The course's staff review an attempt or submission (as the API lets them); only its owner
    # answers; the course's instructors give extensions and override scores.
    ("GET", "/app/attempts/<int:attempt_id>"): (STAFF_B, STAFF_A | {ALICE}),
    ("POST", "/app/attempts/<int:attempt_id>"): (NOBODY, {ALICE}),
    ("GET", "/app/courses/<slug>"): (STAFF_B, STAFF_A),
    ("POST", "/app/quizzes/<slug>/extensions"): (SITE_STAFF, TEACH_A),
    ("GET", "/app/submissions/<int:submission_id>"): (STAFF_B, STAFF_A | {ALICE}),
    ("POST", "/app/submissions/<int:submission_id>/override"): (SITE_STAFF, TEACH_A),
}
# Routes with their own tests: signing in and out, static files, LTI's own flow.
PAGES_ELSEWHERE = {
    "/app/enter/<key>",
    "/app/sign-out",
    "/app/static/<path:filename>",
}
ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}


@dataclass
class World:
    ids: dict[str, dict[str, Any]]  # "A"/"B" -> the objects of that course
    credentials: dict[str, str]  # actor -> plain token


def _question(slug: str, course_id: int | None) -> Any:
    question, _ = save_question({**SINGLE, "slug": slug, "title": slug})
    question.course_id = course_id
    return question


def build_world(app: Flask) -> World:
    with app.app_context():
        a, b = get_or_create_course("course-a"), get_or_create_course("course-b")
        shared = _question("q-shared", None)
        qa, qb = _question("q-a", a.id), _question("q-b", b.id)
        db.session.flush()
        for slug, course, own in (("quiz-a", a, qa), ("quiz-b", b, qb)):
            save_quiz(
                {
                    "slug": slug,
                    "title": slug,
                    "course": course.slug,
                    "questions": [shared.slug, own.slug],
                }
            )
        db.session.flush()
        credentials, users = {}, {}
        for actor, role, course in (
            (ADMIN, Role.ADMIN, None),
            (SITE, Role.INSTRUCTOR, None),
            (TEACHER, Role.INSTRUCTOR, a),
            (TA, Role.INSTRUCTOR, a),
            (ALICE, Role.STUDENT, None),
            (LMS, Role.LMS, None),
            (LMS_A, Role.LMS, a),
            ("bob", Role.STUDENT, None),
        ):
            user = get_or_create_user(actor, role)
            if course is not None:
                make_member(user, course, CourseRole.TEACHING_ASSISTANT if actor == TA else None)
            token, plain = issue_token(user, actor, course)
            db.session.flush()
            credentials[actor], users[actor] = plain, (user, token)
        ids: dict[str, dict[str, Any]] = {}
        for key, course, quiz_slug, student, own in (
            ("A", a, "quiz-a", ALICE, qa),
            ("B", b, "quiz-b", "bob", qb),
        ):
            user, token = users[student]
            quiz = db.session.query(Quiz).filter_by(slug=quiz_slug).one()
            db.session.add(Enrollment(user_id=user.id, course_id=course.id))
            attempt = QuizAttempt(quiz=quiz, user=user, number=1, max_score=4.0)
            db.session.add(attempt)
            db.session.flush()
            submission = Submission(
                user_id=user.id,
                question_id=own.id,
                question_version=1,
                attempt_id=attempt.id,
                answer="b",
                status=SubmissionStatus.GRADED,
                score=2.0,
                max_score=2.0,
            )
            webhook = Webhook(course=course, url="https://hooks.example.com/x", secret="s")
            regrade = Regrade(question=own, requested_by_id=users[ADMIN][0].id, question_version=1)
            db.session.add_all([submission, webhook, regrade])
            db.session.flush()
            record(own, "api")  # revision 1 of the course's question and quiz
            record(quiz, "api")
            platform = LtiPlatform(
                name=f"LMS {key}",
                issuer=f"https://lms-{key.lower()}.example.com",
                client_id="holdout",
                auth_login_url="https://lms.example.com/auth",
                auth_token_url="https://lms.example.com/token",
                jwks_url="https://lms.example.com/jwks",
            )
            db.session.add(platform)
            db.session.flush()
            ids[key] = {
                "course": course.slug,
                "quiz": quiz_slug,
                "question": own.slug,
                "submission": submission.id,
                "attempt": attempt.id,
                "webhook": webhook.id,
                "regrade": regrade.id,
                "token": token.id,
                "student": user.id,
                "platform": platform.id,
            }
        db.session.commit()
        return World(ids=ids, credentials=credentials)


def fill(path: str, objects: dict[str, Any]) -> str:
    kind = "course"
    if path.startswith("/api/v1/questions") or path.startswith("/app/questions"):
        kind = "question"
    elif "/quizzes/" in path:
        kind = "quiz"
    values = {
        "slug": objects[kind],
        "token_id": objects["token"],
        "submission_id": objects["submission"],
        "attempt_id": objects["attempt"],
        "regrade_id": objects["regrade"],
        "webhook_id": objects["webhook"],
        "question": "q-shared",
        "user_id": objects["student"],
        "platform_id": objects["platform"],
        "number": 1,
    }
    return re.sub(r"[{<](?:\w+:)?(\w+)[}>]", lambda m: str(values[m.group(1)]), path)


def body_for(method: str, path: str, objects: dict[str, Any]) -> Any:
    fresh = uuid.uuid4().hex[:8]
    if method == "GET" or method == "DELETE":
        return None
    if path == "/api/v1/tokens":
        return {"name": "x", "role": "lms"}
    if path == "/api/v1/courses":
        return {"slug": f"c-{fresh}", "title": "New"}
    if path == "/api/v1/questions":
        return {**SINGLE, "slug": f"q-{fresh}"}
    if path == "/api/v1/questions/{slug}":
        return {**SINGLE, "slug": objects["question"], "title": "Edited"}
    if path.endswith("/override"):
        return {"score": 1.0, "comment": "Checked by hand."}
    if "/extensions/" in path:
        return {"extra_minutes": 10}
    if "/revisions/" in path:
        return None
    if path.endswith("/submissions") or "/answers/" in path:
        return {"answer": "b"}
    if path.startswith("/api/v1/quizzes"):
        slug = f"z-{fresh}" if path == "/api/v1/quizzes" else objects["quiz"]
        if path.endswith("/attempts"):
            return None
        return {"slug": slug, "title": "Z", "course": objects["course"], "questions": ["q-shared"]}
    if path.endswith("/webhooks"):
        return {"url": "https://hooks.example.com/y"}
    if path == "/api/v1/lti/platforms":
        return {"name": "x"}  # refused as invalid (422) by whoever may register platforms
    if path == "/api/v1/lti/platforms/{platform_id}":
        return {"name": f"Renamed {fresh}"}
    if path == "/api/v1/lti/registration-links":
        return {"name": "An LMS"}
    if path.endswith("/regrades") or path.endswith("/submit") or path == "/api/v1/sign-in-links":
        return {}
    return {}


Caller = Callable[..., Any]


def bearer_caller(client: FlaskClient, token: str) -> Caller:
    def call(method: str, path: str, json: Any = None, data: Any = None) -> Any:
        return client.open(
            path, method=method, json=json, data=data, headers={"Authorization": f"Bearer {token}"}
        )

    return call


def session_caller(client: FlaskClient, token: str) -> Caller:
    """A browser signed in through a sign-in link made with this token."""
    made = client.post(
        "/api/v1/sign-in-links", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    path = made.get_json()["url"].removeprefix("http://localhost")
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert nonce is not None
    assert client.post(path, data={"nonce": nonce.group(1)}).status_code == 303
    csrf = re.search(r'name="holdout-csrf" content="([^"]+)"', client.get("/app/").get_data(True))
    assert csrf is not None

    def call(method: str, path: str, json: Any = None, data: Any = None) -> Any:
        if data is not None:
            data = {**data, "csrf": csrf.group(1)}
        return client.open(
            path, method=method, json=json, data=data, headers={"X-CSRF-Token": csrf.group(1)}
        )

    return call


def api_operations(client: FlaskClient) -> list[tuple[str, str]]:
    doc = client.get("/openapi.json").get_json()
    found = [
        (method.upper(), path)
        for path, operations in doc["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "delete", "patch")
    ]
    return sorted(found, key=lambda op: (ORDER[op[0]], op[0] == "DELETE" and "tokens" in op[1]))


def test_every_endpoint_and_page_has_an_expectation(app: Flask, client: FlaskClient) -> None:
    operations = set(api_operations(client))
    assert operations - PUBLIC == set(EXPECTED), "give each new endpoint its expectation"
    pages = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("pages.")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert {p for p in pages if p[1] not in PAGES_ELSEWHERE} == set(PAGES)


def walk(
    app: Flask, client: FlaskClient, actor: str, through_session: bool
) -> Iterator[tuple[str, str, str, bool, bool]]:
    """(target, method, path, expected through, actually through) for every operation."""
    world = build_world(app)
    make = session_caller if through_session else bearer_caller
    call = make(client, world.credentials[actor])
    for target in ("B", "A"):
        objects = world.ids[target]
        column = 0 if target == "B" else 1
        if through_session:
            for (method, rule), expected in sorted(PAGES.items(), key=lambda p: ORDER[p[0][0]]):
                data = {f"answer-{objects['question']}": "b"} if method == "POST" else None
                response = call(method, fill(rule, objects), data=data)
                assert response.status_code < 500, (method, rule, response.get_data(True))
                through = response.status_code not in (401, 403, 404)
                yield target, method, rule, actor in expected[column], through
        for method, path in api_operations(client):
            if (method, path) in PUBLIC or (target == "A" and method == "DELETE"):
                continue
            allowed = EXPECTED[(method, path)][column]
            if through_session and path == "/api/v1/sign-in-links":
                allowed = NOBODY  # links are made with an API token only
            if through_session and target == "B" and (method, path) in ENROLLED_READ:
                # The page walk started an attempt at course B's quiz, which enrolled its
                # student there (a student is enrolled on their first attempt), and a course's
                # students read its questions.
                allowed = allowed | {ALICE}
            response = call(method, fill(path, objects), json=body_for(method, path, objects))
            through = response.status_code not in (401, 403, 404)
            assert response.status_code < 500, (method, path, response.get_data(as_text=True))
            yield target, method, path, actor in allowed, through
            if method == "GET" and path in LISTED and through:
                kind, sees_b, sees_a = LISTED[path]
                if through_session and (method, path) in ENROLLED_READ:
                    sees_b = sees_b | {ALICE}  # enrolled in course B by the page walk (above)
                items = response.get_json()["items"]
                keys = {item.get("slug", item.get("id")) for item in items}
                yield (
                    target,
                    "LIST",
                    path,
                    actor in (sees_b, sees_a)[column],
                    (objects[kind] in keys),
                )


@pytest.mark.parametrize("through_session", [False, True], ids=["token", "session"])
@pytest.mark.parametrize("actor", ACTORS)
def test_each_caller_sees_and_does_only_what_its_role_and_course_allow(
    app: Flask, client: FlaskClient, actor: str, through_session: bool, backend: str
) -> None:
    if through_session and backend == "postgresql":
        pytest.skip("sessions scope the same queries; their walk on SQLite keeps the suite fast")
    wrong = [
        f"{target} {method} {path}: expected {'through' if want else 'refused'}"
        for target, method, path, want, got in walk(app, client, actor, through_session)
        if want != got
    ]
    assert wrong == [], "\n".join(wrong)
