"""Fair queueing: one student's slow submissions never hold up another student's answer.

A grading process runs at most one job per student at a time; the threads left free grade other
students' submissions, in the embedded executor and in a worker's Dramatiq threads alike.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from service import broker, jobs
from service.models import Submission, SubmissionStatus, db
from tests.jobs.conftest import read_answer
from tests.jobs.processes import (
    deployment_env,
    holdout,
    prepare_database,
    start_gunicorn,
    wait_until,
)
from tests.jobs.test_embedded_grading import submit


def test_a_process_claims_one_job_per_student_at_a_time(
    dropout_app: Flask,
    client: FlaskClient,
    student: dict[str, str],
    other_student: dict[str, str],
) -> None:
    first, second = (submit(client, student, read_answer("reference"))["id"] for _ in range(2))
    others = submit(client, other_student, read_answer("reference"))["id"]
    running = jobs.StudentJobs()
    with dropout_app.app_context():
        assert jobs.claim_next("p", running) == first
        # The student's next submission is older, but they have a job running here.
        assert jobs.claim_next("p", running) == others
        assert jobs.claim_next("p", running) is None
        running.done(first)
        assert jobs.claim_next("p", running) == second
        row = db.session.get(Submission, second)
        assert row is not None and row.status == SubmissionStatus.RUNNING


def test_a_worker_parks_a_busy_students_message_for_the_thread_that_frees_them(
    dropout_app: Flask,
    client: FlaskClient,
    student: dict[str, str],
    other_student: dict[str, str],
) -> None:
    first, second, third = three_answers(client, student)
    others = submit(client, other_student, read_answer("reference"))["id"]
    running = jobs.StudentJobs()
    with dropout_app.app_context():
        assert jobs.claim_for_student(first, "w", running)
        assert not jobs.claim_for_student(second, "w", running)  # parked: not claimed
        row = db.session.get(Submission, second)
        assert row is not None and row.status == SubmissionStatus.QUEUED
        assert jobs.claim_for_student(others, "w", running)
        assert not jobs.claim_for_student(first, "w2", jobs.StudentJobs())  # leased
        assert running.done(others) is None
        assert running.done(first) == second  # the thread that finished `first` takes it
        # Its turn is reserved for that thread: a message for the student meanwhile is parked.
        assert not jobs.claim_for_student(third, "w", running)
        assert jobs.claim_for_student(second, "w", running, reserved=True)
        assert running.done(second) == third
        assert jobs.claim_for_student(third, "w", running, reserved=True)
        assert running.done(third) is None


def test_a_parked_message_graded_elsewhere_does_not_strand_the_students_next_one(
    dropout_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    """The sweeper sends a long-queued row again; another process may grade it while it waits
    here. The thread that finishes the student's job must go on to the student's next parked
    submission, not stop (which left it queued until the sweeper sent it once more)."""
    first, second, third = three_answers(client, student)
    running = jobs.StudentJobs()
    with dropout_app.app_context():
        assert jobs.claim_for_student(first, "w", running)
        assert not jobs.claim_for_student(second, "w", running)  # parked
        assert not jobs.claim_for_student(second, "w", running)  # sent again: parked once
        assert not jobs.claim_for_student(third, "w", running)  # parked
        assert jobs.claim_for_student(second, "w2", jobs.StudentJobs())  # another worker's now
        assert running.done(first) == second
        assert not jobs.claim_for_student(second, "w", running, reserved=True)
        assert running.done(second) == third  # the unused turn passes on
        assert jobs.claim_for_student(third, "w", running, reserved=True)
        assert running.done(third) is None  # `second` was parked once, and is gone
        row = db.session.get(Submission, third)
        assert row is not None and row.status == SubmissionStatus.RUNNING
        assert row.lease_owner == "w"


class WorkerLoop:
    """A worker's view of the broker (nothing is sent) with its own record of running jobs; the
    grading of a claimed job is replaced by one that records its id and, in the first job, calls
    `during_first(queue)`."""

    def __init__(
        self, app: Flask, monkeypatch: pytest.MonkeyPatch, during_first: Callable[..., None]
    ) -> None:
        self.queue = broker.BrokerQueue("redis://127.0.0.1:6379/15")
        self.queue.app = app
        self.ran: list[int] = []
        self.during_first = during_first
        monkeypatch.setattr(broker, "RUNNING", jobs.StudentJobs())
        monkeypatch.setattr(jobs, "run_claimed", self._run_claimed)

    def _run_claimed(self, app: Flask, submission_id: int, owner: str) -> None:
        self.ran.append(submission_id)
        if len(self.ran) == 1:
            with app.app_context():
                self.during_first(self.queue)


def test_a_worker_thread_goes_on_to_the_students_next_parked_submission(
    dropout_app: Flask,
    client: FlaskClient,
    student: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the worker's own loop: while the first job runs, two more messages of the student
    arrive and are parked; another process grades the first of them. The thread then grades the
    other one, and no job of the student ever runs beside another."""
    first, second, third = three_answers(client, student)

    def during_first(queue: broker.BrokerQueue) -> None:
        queue._grade(second)  # other threads' messages: parked, the student is busy
        queue._grade(third)
        assert jobs.claim_for_student(second, "elsewhere", jobs.StudentJobs())

    worker = WorkerLoop(dropout_app, monkeypatch, during_first)
    worker.queue._grade(first)
    assert worker.ran == [first, third]
    assert broker.RUNNING.students() == set()


def test_a_failed_job_does_not_leave_its_student_busy_in_the_worker(
    dropout_app: Flask,
    client: FlaskClient,
    student: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A job whose grading raised (the database went away, say) frees the student's turn: their
    next message is graded, not parked for a thread that is gone."""
    first, second, third = three_answers(client, student)

    def during_first(queue: broker.BrokerQueue) -> None:
        queue._grade(second)  # parked
        raise RuntimeError("the database went away")

    worker = WorkerLoop(dropout_app, monkeypatch, during_first)
    with pytest.raises(RuntimeError):
        worker.queue._grade(first)
    assert broker.RUNNING.students() == set()
    worker.queue._grade(third)  # the student's next message
    assert worker.ran == [first, third]
    with dropout_app.app_context():
        row = db.session.get(Submission, second)
        # Dropped from the worker's memory only: still queued, for the sweeper to send again.
        assert row is not None and row.status == SubmissionStatus.QUEUED


def test_a_failing_copy_of_a_message_does_not_free_the_turn_of_the_thread_running_it(
    dropout_app: Flask,
    client: FlaskClient,
    student: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A re-sent copy of the running job's message, whose claim fails with an error in another
    thread, leaves the student busy: only the thread holding the turn frees it."""
    first, second, _ = three_answers(client, student)
    busy_while_running = []

    def during_first(queue: broker.BrokerQueue) -> None:
        real = broker.claim_for_student

        def failing(*args: object) -> bool:
            raise RuntimeError("the database went away")

        monkeypatch.setattr(broker, "claim_for_student", failing)
        with pytest.raises(RuntimeError):
            queue._grade(first)  # the copy, in another thread
        monkeypatch.setattr(broker, "claim_for_student", real)
        busy_while_running.append(broker.RUNNING.students())
        queue._grade(second)  # so still parked, not run beside the first

    worker = WorkerLoop(dropout_app, monkeypatch, during_first)
    worker.queue._grade(first)
    assert busy_while_running == [{dropout_user_id(dropout_app, first)}]
    assert worker.ran == [first, second]


def dropout_user_id(app: Flask, submission_id: int) -> int:
    with app.app_context():
        row = db.session.get(Submission, submission_id)
        assert row is not None
        return int(row.user_id)


def three_answers(client: FlaskClient, headers: dict[str, str]) -> list[int]:
    return [int(submit(client, headers, read_answer("reference"))["id"]) for _ in range(3)]


# Near the 10 s wall clock of the dropout exercise, in every call: each of these submissions
# holds a grading thread for about 10 s.
SLEEPER = (
    "import time\n"
    + read_answer("reference").replace("def dropout(", "def _dropout(", 1)
    + "\n\ndef dropout(*args, **kwargs):\n"
    + "    time.sleep(9.5)\n"
    + "    return _dropout(*args, **kwargs)\n"
)
UNLIMITED = {
    "HOLDOUT_RATE_LIMIT": "1000000 per minute",
    "HOLDOUT_SUBMIT_RATE_LIMIT": "1000000 per minute",
}


@pytest.mark.slow
@pytest.mark.xdist_group("deployments")
def test_a_students_slow_burst_does_not_delay_another_student(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'holdout.db'}"
    env = {**deployment_env(tmp_path, database_url), **UNLIMITED}
    sam = prepare_database(tmp_path, env)
    token = holdout(env, "token", "create", "--role", "student", "--name", "alex").splitlines()[-1]
    alex = {"Authorization": f"Bearer {token}"}
    server, base = start_gunicorn(env, tmp_path, workers=2)

    def post(headers: dict[str, str], source: str) -> int:
        response = requests.post(
            f"{base}/api/v1/questions/dropout/submissions",
            json={"answer": source},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        return int(response.json()["id"])

    def status(headers: dict[str, str], submission_id: int, wait: int = 0) -> dict[str, str]:
        body: dict[str, str] = requests.get(
            f"{base}/api/v1/submissions/{submission_id}?wait={wait}", headers=headers, timeout=30
        ).json()
        return body

    try:
        burst = [post(sam, SLEEPER) for _ in range(8)]
        # Both grading processes are busy with the burst before the other student submits.
        wait_until(
            lambda: sum(status(sam, i)["status"] == "running" for i in burst) >= 2,
            30,
            "the burst to be graded",
            server,
        )
        submitted = time.monotonic()
        answer = post(alex, read_answer("reference"))
        while (graded := status(alex, answer, wait=5))["status"] not in ("graded", "failed"):
            assert time.monotonic() - submitted < 30, graded
        lag = time.monotonic() - submitted
        unfinished = [i for i in burst if status(sam, i)["status"] in ("queued", "running")]
    finally:
        server.signal(signal.SIGKILL)  # no graceful stop: the burst's jobs are of no interest
        server.stop()
    assert graded["status"] == "graded" and graded["score"] == graded["max_score"]
    assert lag < 10, f"the other student's answer waited {lag:.1f} s behind the burst"
    # It went ahead of most of the burst (first come, first served would grade it last).
    assert len(unfinished) >= 5, unfinished
