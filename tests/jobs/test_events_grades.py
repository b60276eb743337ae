"""The grade writer and its events: every grade is announced once it is committed (never when it
is rolled back), attempts announce their hand-in, features listen from app start-up, and the
import structure that keeps the domain free of its listeners is checked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select

from service import events
from service.background import background
from service.events import AttemptHandedIn, AttemptRescored, SubmissionGraded
from service.grades import grade_result, write_grade
from service.grading import write_result
from service.models import Grade, Submission, SubmissionStatus, db
from tests.jobs.test_policies_and_regrades import CHOICE, make_quiz, take_quiz

ROOT = Path(__file__).resolve().parents[2]


class Heard:
    """What listeners heard, and (for after-commit ones) whether the grade was visible to a
    separate connection at that moment, i.e. committed."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.in_transaction: list[Any] = []
        self.after_commit: list[Any] = []
        self.committed_then: list[bool] = []
        bus = events.bus(app)
        for event_type in (SubmissionGraded, AttemptHandedIn, AttemptRescored):
            bus.subscribe(event_type, self.in_transaction.append)
            bus.subscribe(event_type, self._after, "after_commit")

    def _after(self, event: Any) -> None:
        self.after_commit.append(event)
        if isinstance(event, SubmissionGraded):
            engine = create_engine(self.app.config["SQLALCHEMY_DATABASE_URI"])
            try:
                with engine.connect() as conn:
                    status = conn.scalar(
                        select(Submission.status).where(Submission.id == event.submission_id)
                    )
            finally:
                engine.dispose()
            self.committed_then.append(status == SubmissionStatus.GRADED)

    def forget(self) -> None:
        bus = events.bus(self.app)
        for handlers in bus._handlers.values():
            for mine in (self.in_transaction.append, self._after):
                if mine in handlers:
                    handlers.remove(mine)


@pytest.fixture
def heard(app: Flask) -> Any:
    found = Heard(app)
    yield found
    found.forget()


@pytest.fixture
def choice(client: FlaskClient, instructor: dict[str, str]) -> None:
    assert client.post("/api/v1/questions", json=CHOICE, headers=instructor).status_code == 201


def test_a_quick_answer_is_announced_after_its_grade_is_committed(
    client: FlaskClient, student: dict[str, str], choice: None, heard: Heard
) -> None:
    made = client.post(
        "/api/v1/questions/bn-eval/submissions", json={"answer": "b"}, headers=student
    ).get_json()
    assert [type(e) for e in heard.after_commit] == [SubmissionGraded]
    event = heard.after_commit[0]
    assert (event.submission_id, event.status) == (made["id"], "graded")
    assert heard.committed_then == [True]  # the listener could already read the grade


def test_a_grade_that_is_rolled_back_is_never_announced(
    app: Flask, client: FlaskClient, student: dict[str, str], choice: None, heard: Heard
) -> None:
    made = client.post(
        "/api/v1/questions/bn-eval/submissions", json={"answer": "a"}, headers=student
    ).get_json()
    heard.after_commit.clear()
    with app.app_context():
        submission = db.session.get(Submission, made["id"])
        assert submission is not None
        result = grade_result(SubmissionStatus.GRADED, 2.0, [], "overridden")
        assert write_grade(submission, result, late_penalty=False)
        assert len(heard.in_transaction) == 2  # the listeners inside the transaction ran
        db.session.rollback()
        db.session.commit()  # a later commit of the same session announces nothing either
        assert db.session.scalar(select(Submission.score).where(Submission.id == made["id"])) == 0
    assert heard.after_commit == []


def test_a_lost_lease_writes_and_announces_nothing(
    app: Flask, client: FlaskClient, student: dict[str, str], choice: None, heard: Heard
) -> None:
    made = client.post(
        "/api/v1/questions/bn-eval/submissions", json={"answer": "a"}, headers=student
    ).get_json()
    heard.after_commit.clear()
    with app.app_context():
        result = grade_result(SubmissionStatus.GRADED, 2.0, [], "from a lost lease")
        assert not write_result(made["id"], "nobody", result)
        grades = db.session.scalars(select(Grade).where(Grade.submission_id == made["id"])).all()
        assert len(grades) == 1
    assert heard.after_commit == []


def test_an_attempt_announces_its_hand_in_with_its_graded_answers(
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
    choice: None,
    heard: Heard,
) -> None:
    make_quiz(client, instructor, ["bn-eval"])
    result = take_quiz(client, student, {"bn-eval": "b"})
    kinds = [type(e) for e in heard.after_commit]
    assert kinds == [SubmissionGraded, AttemptHandedIn]
    assert heard.after_commit[1].attempt_id == result["id"]


def test_features_register_their_listeners_and_periodic_work_at_start_up(app: Flask) -> None:
    bus = events.bus(app)
    listeners = {
        (event_type.__name__, phase, handler.__module__)
        for (event_type, phase), handlers in bus._handlers.items()
        for handler in handlers
    }
    assert ("SubmissionGraded", "in_transaction", "service.webhooks") in listeners
    assert ("SubmissionGraded", "in_transaction", "service.lti.ags") in listeners
    assert ("AttemptHandedIn", "in_transaction", "service.lti.ags") in listeners
    assert ("SubmissionGraded", "in_transaction", "service.attempts") in listeners
    tasks = set(background(app).tasks)
    assert {"deliveries", "lti-housekeeping", "expired-sessions"} <= tasks


def test_the_import_contracts_hold() -> None:
    """grader is free of the project, question_bank of service, the domain of lti and pages."""
    lint = shutil.which("lint-imports", path=str(ROOT / ".venv" / "bin")) or "lint-imports"
    done = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout
