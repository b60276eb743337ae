"""Whole deployments, as real processes: gunicorn with embedded grading on SQLite; gunicorn with
`holdout worker`s over Redis and RabbitMQ on PostgreSQL; crashes, SIGKILLs and a broker outage.

Each asserts what users rely on: every accepted submission is graded, exactly once, correctly.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, pg_available, require_service
from tests.jobs.conftest import read_answer
from tests.jobs.processes import (
    Proc,
    delete_rabbitmq_vhost,
    deployment_env,
    holdout,
    prepare_database,
    private_redis,
    rabbitmq_vhost,
    start_gunicorn,
    start_redis,
    start_worker,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("deployments")]

# About a second of pure computation at import, then a correct answer: slow enough to be
# caught mid-job by a kill, quick enough for the sandbox's limits.
SLOW_REFERENCE = "_ = sum(range(6 * 10**7))\n" + read_answer("reference")


@pytest.fixture
def pg_url() -> Iterator[str]:
    require_service(pg_available(), "PostgreSQL on 127.0.0.1:5432")
    name = f"holdout_deploy_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def submit_all(base: str, headers: dict[str, str], sources: list[str]) -> list[int]:
    def one(source: str) -> int:
        response = requests.post(
            f"{base}/api/v1/questions/dropout/submissions",
            json={"answer": source},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        return int(response.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, sources))


def settle(
    base: str, headers: dict[str, str], ids: list[int], seconds: float
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    results = []
    for submission_id in ids:
        while True:
            body = requests.get(
                f"{base}/api/v1/submissions/{submission_id}?wait=5", headers=headers, timeout=30
            ).json()
            if body["status"] in ("graded", "failed"):
                results.append(body)
                break
            assert time.monotonic() < deadline, f"submission {submission_id} stuck: {body}"
    return results


def grade_counts(database_url: str) -> dict[int, int]:
    """How many results each submission got: the exactly-once property, read from the table."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.id, COUNT(g.id) FROM submissions s "
                "LEFT JOIN grades g ON g.submission_id = s.id GROUP BY s.id"
            )
        ).all()
    engine.dispose()
    return {int(r[0]): int(r[1]) for r in rows}


def running_owners(database_url: str) -> list[str]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        owners = conn.execute(
            text("SELECT lease_owner FROM submissions WHERE status = 'running'")
        ).scalars()
        found = [o for o in owners if o]
    engine.dispose()
    return found


def assert_all_graded_once(database_url: str, results: list[dict[str, Any]], full: int) -> None:
    assert [r["status"] for r in results] == ["graded"] * len(results)
    assert [r["score"] == r["max_score"] for r in results][:full] == [True] * full
    counts = grade_counts(database_url)
    assert all(counts[r["id"]] == 1 for r in results), counts


def test_gunicorn_on_sqlite_grades_everything_once_and_survives_a_crash(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'holdout.db'}"
    env = deployment_env(tmp_path, database_url)
    headers = prepare_database(tmp_path, env)
    server, base = start_gunicorn(env, tmp_path, workers=2)
    try:
        ready = requests.get(f"{base}/readyz", timeout=30).json()
        sandbox = ready["checks"]["sandbox"]
        assert ready["status"] == "ready" and sandbox["ok"] and not sandbox["missing"]
        assert all(sandbox[layer] for layer in ("uid_separation", "rlimits", "netns", "mountns"))
        ids = submit_all(
            base, headers, [read_answer("reference")] * 3 + [read_answer("no_scaling")] * 3
        )
        results = settle(base, headers, ids, 120)
        assert_all_graded_once(database_url, results, full=3)
        assert all(r["score"] < r["max_score"] for r in results[3:])

        # The whole server dies mid-job; what it had accepted is graded after a restart.
        slow = submit_all(base, headers, [SLOW_REFERENCE] * 4)
        wait_until(lambda: running_owners(database_url), 30, "a job in flight", server)
        server.signal(signal.SIGKILL)
        server.wait(10)
    finally:
        server.stop()
    server, base = start_gunicorn(env, tmp_path, workers=2)
    try:
        assert_all_graded_once(database_url, settle(base, headers, slow, 120), full=4)
    finally:
        server.stop()


def test_workers_over_redis_on_postgresql_survive_a_sigkill(tmp_path: Path, pg_url: str) -> None:
    with private_redis(tmp_path) as (broker_url, _):
        env = deployment_env(tmp_path, pg_url, broker_url)
        headers = prepare_database(tmp_path, env)
        server, base = start_gunicorn(env, tmp_path, workers=2)
        first = start_worker(env, tmp_path, "first", "--threads", "2")
        second = start_worker(env, tmp_path, "second", "--threads", "2")
        try:
            ids = submit_all(base, headers, [SLOW_REFERENCE] * 6)
            # Kill the worker that holds a lease: its jobs must move to the other one. Which one
            # it is depends on which took the messages first (one student's jobs may all go to
            # one worker, which runs them one at a time), so it is found, not assumed.
            holding: list[Proc] = []

            def a_worker_holds_a_lease() -> bool:
                owners = running_owners(pg_url)
                holding[:] = [p for p in (first, second) if any(f":{p.pid}:" in o for o in owners)]
                return bool(holding)

            wait_until(a_worker_holds_a_lease, 60, "a worker to take a job", first)
            killed = holding[0]
            survivor = second if killed is first else first
            killed.signal(signal.SIGKILL)
            results = settle(base, headers, ids, 180)
            assert_all_graded_once(pg_url, results, full=6)
            assert "graded" in survivor.output()
        finally:
            for proc in (first, second, server):
                proc.stop()


def test_a_worker_over_rabbitmq_grades_and_sigterm_releases_or_finishes(
    tmp_path: Path, pg_url: str
) -> None:
    vhost = f"holdout-test-{uuid.uuid4().hex[:8]}"
    broker_url = rabbitmq_vhost(vhost)
    env = deployment_env(tmp_path, pg_url, broker_url)
    headers = prepare_database(tmp_path, env)
    server, base = start_gunicorn(env, tmp_path, workers=1)
    worker = start_worker(env, tmp_path, "rabbit", "--threads", "2", "--grace", "0")
    try:
        ids = submit_all(base, headers, [read_answer("reference"), read_answer("no_scaling")])
        assert_all_graded_once(pg_url, settle(base, headers, ids, 120), full=1)

        # SIGTERM with no grace while jobs run: they are given back, and a new worker grades them.
        slow = submit_all(base, headers, [SLOW_REFERENCE] * 2)
        wait_until(lambda: running_owners(pg_url), 60, "a job in flight", worker)
        worker.signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        assert "worker stopped" in worker.output()
        successor = start_worker(env, tmp_path, "successor", "--threads", "2")
        try:
            assert_all_graded_once(pg_url, settle(base, headers, slow, 120), full=2)
        finally:
            successor.stop()
    finally:
        worker.stop()
        server.stop()
        delete_rabbitmq_vhost(vhost)


def test_a_broker_outage_loses_no_accepted_submission(tmp_path: Path, pg_url: str) -> None:
    with private_redis(tmp_path) as (broker_url, redis):
        port = int(broker_url.rsplit(":", 1)[1].split("/")[0])
        env = deployment_env(tmp_path, pg_url, broker_url)
        headers = prepare_database(tmp_path, env)
        server, base = start_gunicorn(env, tmp_path, workers=1)
        worker = start_worker(env, tmp_path, "outage", "--threads", "2")
        try:
            redis.stop()
            ready = requests.get(f"{base}/readyz", timeout=10)
            assert ready.status_code == 503
            assert ready.json()["checks"]["broker"]["ok"] is False

            # Accepted while the broker is down: the rows are the truth, not the broker.
            ids = submit_all(base, headers, [read_answer("reference")] * 3)
            redis = start_redis(tmp_path, port)
            results = settle(base, headers, ids, 180)
            assert_all_graded_once(pg_url, results, full=3)
            redis.stop()
        finally:
            worker.stop()
            server.stop()


def test_a_worker_alone_hands_in_an_attempt_whose_time_is_up(tmp_path: Path, pg_url: str) -> None:
    # Scaled out, the API may be down when a quiz closes: the worker's periodic work hands the
    # open attempt in (scored, in the gradebook), as the API processes do in the embedded default.
    from datetime import UTC, datetime, timedelta

    from tests.service.samples import SINGLE

    with private_redis(tmp_path) as (broker_url, _):
        env = deployment_env(tmp_path, pg_url, broker_url)
        holdout(env, "db", "upgrade")
        student, instructor = (
            {"Authorization": "Bearer " + holdout(env, *made).splitlines()[-1]}
            for made in (
                ("token", "create", "--role", "student", "--name", "sam"),
                ("token", "create", "--role", "instructor", "--name", "ida"),
            )
        )
        closes = datetime.now(UTC) + timedelta(hours=1)
        server, base = start_gunicorn(env, tmp_path, workers=1)
        try:
            api = f"{base}/api/v1"
            made = requests.post(f"{api}/questions", json=SINGLE, headers=instructor, timeout=30)
            assert made.status_code == 201, made.text
            quiz = {
                "slug": "closing-soon",
                "title": "Closes in seconds",
                "course": "reg-101",
                "questions": [SINGLE["slug"]],
                "closes_at": closes.isoformat(),
            }
            made = requests.post(f"{api}/quizzes", json=quiz, headers=instructor, timeout=30)
            assert made.status_code == 201, made.text
            attempt = requests.post(f"{api}/quizzes/closing-soon/attempts", headers=student)
            assert attempt.status_code == 201, attempt.text
            attempt_id = attempt.json()["id"]
            answer = {"answer": "b"}  # the right one
            saved = requests.put(
                f"{api}/attempts/{attempt_id}/answers/{SINGLE['slug']}",
                json=answer,
                headers=student,
            )
            assert saved.status_code == 200, saved.text
        finally:
            server.stop()

        engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))

        def attempt_row() -> Any:
            with engine.connect() as conn:
                return conn.execute(
                    text("SELECT status, score FROM quiz_attempts WHERE id = :id"),
                    {"id": attempt_id},
                ).one()

        assert attempt_row().status == "in_progress"
        with engine.begin() as conn:  # the hour passes
            conn.execute(text("UPDATE quizzes SET closes_at = :t"), {"t": datetime.now(UTC)})
        worker = start_worker(env, tmp_path, "alone")
        try:
            wait_until(lambda: attempt_row().status != "in_progress", 90, "the hand-in", worker)
            row = attempt_row()
            assert (row.status, row.score) == ("submitted", SINGLE["points"])
        finally:
            worker.stop()
            engine.dispose()
