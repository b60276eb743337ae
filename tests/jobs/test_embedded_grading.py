"""Code answers graded by the embedded executor, through the real sandbox, on SQLite and PostgreSQL.

Durability is tested on the row: a submission is claimed by exactly one owner, a result is written
exactly once, expired leases are taken over, and work left by a stopped process is picked up.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from service import jobs
from service.grading import write_result
from service.models import Grade, Submission, SubmissionStatus, db, utcnow
from tests.jobs.conftest import read_answer


def submit(client: FlaskClient, headers: dict[str, str], source: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/questions/dropout/submissions", json={"answer": source}, headers=headers
    )
    assert response.status_code == 202, response.get_json()
    assert response.headers["Location"].endswith(f"/submissions/{response.get_json()['id']}")
    body: dict[str, Any] = response.get_json()
    return body


def wait_settled(
    client: FlaskClient, headers: dict[str, str], submission_id: int
) -> dict[str, Any]:
    """Long-poll until the submission is graded or failed (the server bounds each wait)."""
    for _ in range(20):
        response = client.get(f"/api/v1/submissions/{submission_id}?wait=10", headers=headers)
        assert response.status_code == 200
        body: dict[str, Any] = response.get_json()
        if body["status"] in ("graded", "failed"):
            return body
    raise AssertionError(f"submission {submission_id} never settled: {body}")


def test_reference_gets_full_marks_and_result_is_stored(
    dropout_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    queued = submit(client, student, read_answer("reference"))
    assert queued["status"] == "queued"
    assert queued["score"] is None
    jobs.start_embedded_executor(dropout_app)

    graded = wait_settled(client, student, queued["id"])
    assert graded["status"] == "graded"
    assert graded["score"] == graded["max_score"] > 0
    assert graded["tests"] and all(t["passed"] for t in graded["tests"])
    with dropout_app.app_context():
        row = db.session.get(Submission, queued["id"])
        assert row is not None
        assert row.exercise_version and len(row.exercise_version) == 64
        assert row.timings and row.timings["total_ms"] > 0
        assert row.lease_owner is None
        grades = db.session.scalars(select(Grade).where(Grade.submission_id == row.id)).all()
        assert [g.score for g in grades] == [row.score]


def test_wrong_answer_loses_points_with_feedback_a_student_can_act_on(
    dropout_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    jobs.start_embedded_executor(dropout_app)
    graded = wait_settled(client, student, submit(client, student, read_answer("no_scaling"))["id"])
    assert graded["status"] == "graded"
    assert 0 < graded["score"] < graded["max_score"]
    failed = {t["name"]: t for t in graded["tests"] if not t["passed"]}
    assert "survivors are scaled by 1/(1-p)" in failed
    assert "x / (1 - p)" in failed["survivors are scaled by 1/(1-p)"]["message"]


def test_code_that_cannot_run_is_a_failed_grade_not_a_retry(
    dropout_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    jobs.start_embedded_executor(dropout_app)
    broken = wait_settled(client, student, submit(client, student, "def dropout(x, p:\n")["id"])
    assert (broken["status"], broken["score"]) == ("failed", 0)
    assert "syntax" in broken["feedback"].lower()
    with dropout_app.app_context():
        assert db.session.get(Submission, broken["id"]).claims == 1  # type: ignore[union-attr]


def test_a_student_never_sees_anothers_submission(
    dropout_app: Flask,
    client: FlaskClient,
    student: dict[str, str],
    other_student: dict[str, str],
) -> None:
    queued = submit(client, student, read_answer("reference"))
    response = client.get(f"/api/v1/submissions/{queued['id']}", headers=other_student)
    assert response.status_code == 404


def _queued_submission(app: Flask, client: FlaskClient, headers: dict[str, str]) -> int:
    return int(submit(client, headers, read_answer("reference"))["id"])


def test_only_one_owner_can_claim_a_submission(
    dropout_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    submission_id = _queued_submission(dropout_app, client, student)
    with dropout_app.app_context():
        assert jobs.claim(submission_id, "owner-a")
        assert not jobs.claim(submission_id, "owner-b")
        assert jobs.claim_next("owner-c") is None


def test_an_expired_lease_is_taken_over_and_the_old_owner_writes_nothing(
    dropout_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    submission_id = _queued_submission(dropout_app, client, student)
    result = {
        "status": SubmissionStatus.GRADED,
        "score": 1.0,
        "tests": [],
        "feedback": "from a",
        "exercise_version": None,
        "timings": None,
    }
    with dropout_app.app_context():
        assert jobs.claim(submission_id, "owner-a")
        db.session.execute(
            update(Submission)
            .where(Submission.id == submission_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        assert jobs.claim_next("owner-b") == submission_id
        assert not write_result(submission_id, "owner-a", result)
        assert write_result(submission_id, "owner-b", {**result, "feedback": "from b"})
        assert not write_result(submission_id, "owner-b", result)  # exactly once
        row = db.session.get(Submission, submission_id)
        assert row is not None and (row.feedback, row.claims) == ("from b", 2)
        count = db.session.scalar(
            select(func.count(Grade.id)).where(Grade.submission_id == submission_id)
        )
        assert count == 1


def test_work_left_by_a_stopped_process_is_graded_after_a_restart(
    dropout_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    waiting = _queued_submission(dropout_app, client, student)
    orphan = _queued_submission(dropout_app, client, student)
    with dropout_app.app_context():
        # A process claimed `orphan` and died: its lease runs out, nobody renews it.
        assert jobs.claim(orphan, "dead-process")
        db.session.execute(
            update(Submission)
            .where(Submission.id == orphan)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    jobs.start_embedded_executor(dropout_app)
    for submission_id in (waiting, orphan):
        graded = wait_settled(client, student, submission_id)
        assert graded["status"] == "graded" and graded["score"] == graded["max_score"]


def test_a_submission_that_keeps_killing_its_grader_fails_with_a_reason(
    dropout_app: Flask,
    client: FlaskClient,
    student: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    submission_id = _queued_submission(dropout_app, client, student)
    with dropout_app.app_context():
        db.session.execute(
            update(Submission).where(Submission.id == submission_id).values(claims=jobs.MAX_CLAIMS)
        )
        db.session.commit()
    jobs.start_embedded_executor(dropout_app)
    settled = wait_settled(client, student, submission_id)
    assert settled["status"] == "failed"
    assert "interrupted" in settled["feedback"]


def test_stopping_gives_back_jobs_it_could_not_finish(
    dropout_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    submission_id = _queued_submission(dropout_app, client, student)
    with dropout_app.app_context():
        assert jobs.claim(submission_id, "owner-a")
    executor = jobs.EmbeddedExecutor(dropout_app, threads=1)
    executor.in_flight[submission_id] = "owner-a"
    executor.stop(timeout=0)
    with dropout_app.app_context():
        row = db.session.get(Submission, submission_id)
        assert row is not None and row.status == SubmissionStatus.QUEUED
        assert row.lease_owner is None


def test_grading_processes_get_disjoint_sandbox_uids() -> None:
    from grader import Grader
    from service.grading import claim_uid_block

    first_base, first_lock = claim_uid_block(2)
    second_base, second_lock = claim_uid_block(2)
    try:
        first = set(Grader(slots=2, base_uid=first_base).uids)
        second = set(Grader(slots=2, base_uid=second_base).uids)
        assert first and second and not first & second
    finally:
        first_lock.close()
        second_lock.close()


def test_a_grading_process_starts_its_grader_before_the_first_code_answer(
    dropout_app: Flask,
) -> None:
    """The zygote and its probe cost about a second of CPU: paid when the process starts, not by
    the first student to hand in code (in an exam, while the class is still arriving)."""
    from service import grading

    grading.close_grader()
    jobs.start_embedded_executor(dropout_app)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        started = grading._grader
        if started is not None and started.pool.zygote_info():
            break
        time.sleep(0.05)
    else:
        raise AssertionError("no grader was started")
    with dropout_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    assert started.sandbox_status()["ok"]
