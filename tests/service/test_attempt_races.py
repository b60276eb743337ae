"""Answering and handing in exclude each other, with real concurrency on both databases: an
answer is committed before the hand-in and counted, or refused with 409 and not stored. And,
should an answer ever be stored after the hand-in anyway, nothing counts it."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from service.app import create_app
from service.attempts import deadline, hand_in_expired
from service.models import (
    AttemptStatus,
    Question,
    QuizAttempt,
    Submission,
    SubmissionStatus,
    User,
    db,
)
from tests.service.samples import QUIZZES

TRIALS = 10
ANSWERERS = 4
DEADLINE_TRIALS = 4
LEAD_SECONDS = 0.3  # from moving the attempt back to its deadline
SLOW_WRITE_SECONDS = 0.01
POINTS = 2.0  # t-single: "b" is right, "a" and "c" are wrong
BOOK = "/api/v1/courses/race-101/gradebook"


def _slow_answer(session: Session, *_: Any) -> None:
    if any(isinstance(row, Submission) for row in session.new):
        time.sleep(SLOW_WRITE_SECONDS)


@pytest.fixture
def racing(app: Flask, tmp_path: Path) -> Iterator[Flask]:
    """The test's app and database, with rate limits no race reaches, and answers written a
    few milliseconds after they were checked (a slow request: a pause, a busy database)."""
    settings = replace(
        app.extensions["holdout_settings"],
        rate_limit="1000000 per minute",
        submit_rate_limit="1000000 per minute",
        instance_dir=tmp_path,
    )
    racing_app = create_app(settings)
    event.listen(Session, "before_flush", _slow_answer)
    try:
        yield racing_app
    finally:
        event.remove(Session, "before_flush", _slow_answer)
        with racing_app.app_context():
            db.engine.dispose()


@pytest.fixture
def quiz(client: FlaskClient, questions: Any, instructor: dict[str, str]) -> Callable[..., str]:
    def make(slug: str = "race", **rules: Any) -> str:
        body = {"slug": slug, "title": "Race", "course": "race-101", "questions": ["t-single"]}
        assert client.post(QUIZZES, json={**body, **rules}, headers=instructor).status_code == 201
        return slug

    return make


class Answers:
    """What each request got: the accepted answers (submission id -> value) and every status."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: dict[int, str] = {}
        self.codes: list[int] = []

    def send(self, app: Flask, headers: dict[str, str], attempt: int, value: str) -> int:
        response = app.test_client().put(
            f"/api/v1/attempts/{attempt}/answers/t-single", json={"answer": value}, headers=headers
        )
        with self.lock:
            self.codes.append(response.status_code)
            if response.status_code == 200:
                self.accepted[response.get_json()["id"]] = value
        return response.status_code

    def until_refused(self, app: Flask, headers: dict[str, str], attempt: int) -> None:
        for _ in range(40):
            if self.send(app, headers, attempt, random.choice("abc")) != 200:
                return


def run_together(*targets: Callable[[], None]) -> None:
    go = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def run(target: Callable[[], None]) -> None:
        go.wait()
        try:
            target()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def check_counted(
    app: Flask,
    client: FlaskClient,
    headers: dict[str, str],
    attempt_id: int,
    answers: Answers,
    first: tuple[int, str],
) -> None:
    """Every answer that got a 2xx is stored, at or before the hand-in, and the last one counts;
    every refused one got a 409 and stored nothing."""
    assert set(answers.codes) <= {200, 409}, answers.codes
    accepted = {first[0]: first[1], **answers.accepted}
    with app.app_context():
        attempt = db.session.get(QuizAttempt, attempt_id)
        assert attempt is not None and attempt.status == AttemptStatus.SUBMITTED
        assert attempt.submitted_at is not None
        stored = {s.id: s for s in attempt.submissions}
        assert set(stored) == set(accepted), (sorted(stored), sorted(accepted))
        late = [
            (s.id, s.created_at) for s in stored.values() if s.created_at > attempt.submitted_at
        ]
        assert not late, (attempt.submitted_at, late)
        limit = deadline(attempt)
        if limit is not None:
            assert all(s.created_at < limit for s in stored.values())
        score = attempt.score
    last = accepted[max(accepted)]
    expected = POINTS if last == "b" else 0.0
    assert score == expected, (last, score)
    view = client.get(f"/api/v1/attempts/{attempt_id}", headers=headers).get_json()
    assert (view["answers"][0]["answer"], view["score"]) == (last, expected)


def test_answers_racing_a_hand_in_are_counted_or_refused(
    racing: Flask,
    client: FlaskClient,
    quiz: Callable[..., str],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    slug = quiz()
    refused = 0
    for _ in range(TRIALS):
        attempt = client.post(f"{QUIZZES}/{slug}/attempts", headers=student).get_json()["id"]
        first = client.put(
            f"/api/v1/attempts/{attempt}/answers/t-single", json={"answer": "a"}, headers=student
        ).get_json()["id"]
        answers = Answers()

        def hand_in(attempt: int = attempt) -> None:
            time.sleep(random.uniform(0, 0.02))  # let some answers in first
            done = racing.test_client().post(f"/api/v1/attempts/{attempt}/submit", headers=student)
            assert done.status_code == 200

        run_together(
            *[
                lambda attempt=attempt, answers=answers: answers.until_refused(
                    racing, student, attempt
                )
                for _ in range(ANSWERERS)
            ],
            hand_in,
        )
        check_counted(racing, client, student, attempt, answers, (first, "a"))
        refused += answers.codes.count(409)
        # A rescore (an override of the first answer, which keeps its score) counts the same
        # answers: the attempt's score does not move.
        before = client.get(f"/api/v1/attempts/{attempt}", headers=instructor).get_json()["score"]
        overridden = client.post(
            f"/api/v1/submissions/{first}/override",
            json={"score": 0, "comment": "confirmed"},
            headers=instructor,
        )
        assert overridden.status_code == 200
        after = client.get(f"/api/v1/attempts/{attempt}", headers=instructor).get_json()["score"]
        assert after == before
    assert refused >= TRIALS  # every trial had answers after the hand-in, all refused


def test_answers_racing_the_deadline_are_counted_or_refused(
    racing: Flask,
    client: FlaskClient,
    quiz: Callable[..., str],
    student: dict[str, str],
) -> None:
    slug = quiz(time_limit_minutes=1)
    for _ in range(DEADLINE_TRIALS):
        attempt = client.post(f"{QUIZZES}/{slug}/attempts", headers=student).get_json()["id"]
        first = client.put(
            f"/api/v1/attempts/{attempt}/answers/t-single", json={"answer": "a"}, headers=student
        ).get_json()["id"]
        with racing.app_context():  # its minute ends in a moment
            row = db.session.get(QuizAttempt, attempt)
            assert row is not None
            shift = timedelta(minutes=1) - timedelta(seconds=LEAD_SECONDS)
            row.started_at -= shift
            for answer in row.submissions:
                answer.created_at -= shift
            db.session.commit()
        answers = Answers()

        def background_loop(attempt: int = attempt) -> None:
            for _ in range(400):
                with racing.app_context():
                    hand_in_expired()  # or an answer's request hands it in first
                    row = db.session.get(QuizAttempt, attempt)
                    handed_in = row is not None and row.status == AttemptStatus.SUBMITTED
                    db.session.remove()
                if handed_in:
                    return
                time.sleep(0.002)

        run_together(
            *[
                lambda attempt=attempt, answers=answers: answers.until_refused(
                    racing, student, attempt
                )
                for _ in range(ANSWERERS)
            ],
            background_loop,
        )
        check_counted(racing, client, student, attempt, answers, (first, "a"))
        with racing.app_context():
            row = db.session.get(QuizAttempt, attempt)
            assert row is not None and row.ended_by == "time"
            assert row.submitted_at == deadline(row)  # handed in at its deadline, with all
        assert 409 in answers.codes


def test_an_answer_stored_after_the_hand_in_never_counts(
    app: Flask,
    client: FlaskClient,
    quiz: Callable[..., str],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    """Defense in depth: scoring, the review, the gradebook and a later rescore count only
    answers given at or before the attempt's hand-in, whatever wrote the row."""
    slug = quiz()
    attempt = client.post(f"{QUIZZES}/{slug}/attempts", headers=student).get_json()["id"]
    in_time = client.put(
        f"/api/v1/attempts/{attempt}/answers/t-single", json={"answer": "a"}, headers=student
    ).get_json()["id"]
    assert client.post(f"/api/v1/attempts/{attempt}/submit", headers=student).status_code == 200
    with app.app_context():  # a right answer written behind the hand-in's back
        row = db.session.get(QuizAttempt, attempt)
        user = db.session.scalar(select(User).where(User.name == "alice"))
        question = db.session.scalar(select(Question).where(Question.slug == "t-single"))
        assert row is not None and row.submitted_at is not None and user and question
        db.session.add(
            Submission(
                user_id=user.id,
                question_id=question.id,
                question_version=question.version,
                attempt_id=attempt,
                answer="b",
                status=SubmissionStatus.GRADED,
                score=POINTS,
                max_score=POINTS,
                tests=[],
                feedback="Correct.",
                created_at=row.submitted_at + timedelta(milliseconds=1),
                graded_at=row.submitted_at + timedelta(milliseconds=1),
            )
        )
        db.session.commit()

    def seen() -> tuple[Any, ...]:
        review = client.get(f"/api/v1/attempts/{attempt}", headers=instructor).get_json()
        row = client.get(BOOK, headers=instructor).get_json()["students"][0]
        return (
            review["score"],
            review["answers"][0]["answer"],
            review["answers"][0]["score"],
            row["scores"][slug],
            row["question_scores"]["t-single"],
        )

    assert seen() == (0.0, "a", 0.0, 0.0, 0.0)
    # A rescore (an override of the in-time answer) still counts only that one.
    overridden = client.post(
        f"/api/v1/submissions/{in_time}/override",
        json={"score": 0.5, "comment": "partly right"},
        headers=instructor,
    )
    assert overridden.status_code == 200
    assert seen() == (0.5, "a", 0.5, 0.5, 0.5)
