"""The real server: `holdout db upgrade`, `holdout bank load`, then gunicorn with the project's
config on a free loopback port, spoken to over HTTP. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.conftest import PG_ADMIN_URL, pg_available, require_service
from tests.e2e.processes import HoldoutCli, free_port

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


@dataclass
class Server(HoldoutCli):
    url: str
    process: subprocess.Popen[bytes]
    stderr: Path
    env: dict[str, str]
    workdir: Path

    def log_lines(self) -> list[dict[str, Any]]:
        lines = [line for line in self.stderr.read_text().splitlines() if line.strip()]
        parsed = []
        for line in lines:
            try:
                parsed.append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"a log line is not JSON: {line!r}")
        return parsed

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'holdout.db'}"
        return
    require_service(pg_available(), "PostgreSQL on 127.0.0.1:5432")
    name = f"holdout_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDOUT_")}
    env |= {
        "HOLDOUT_DATABASE_URL": database_url,
        "HOLDOUT_INSTANCE_DIR": str(tmp_path / "instance"),
        "HOLDOUT_BIND": f"127.0.0.1:{port}",
        "HOLDOUT_WORKERS": "2",
        "HOLDOUT_THREADS": "2",
        "HOLDOUT_GRACEFUL_TIMEOUT": "20",
        "HOLDOUT_LOG_LEVEL": "info",
    }
    stderr = tmp_path / "gunicorn.stderr"
    placeholder = Server("", None, stderr, env, tmp_path)  # type: ignore[arg-type]
    placeholder.holdout("db", "upgrade")
    placeholder.holdout("bank", "load")
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:service.gunicorn_conf", "service.wsgi:app"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    running = Server(f"http://127.0.0.1:{port}", process, stderr, env, tmp_path)
    try:
        _wait_until_up(running)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def _wait_until_up(server: Server) -> None:
    for _ in range(300):
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited early:\n{server.stderr.read_text()[-3000:]}")
        try:
            requests.get(f"{server.url}/healthz", timeout=10)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer:\n{server.stderr.read_text()[-3000:]}")


def _right_answer(question: dict[str, Any]) -> Any:
    data = question["data"]
    if question["type"] == "single_choice":
        return next(c["id"] for c in data["choices"] if c["correct"])
    if question["type"] == "multiple_choice":
        return [c["id"] for c in data["choices"] if c["correct"]]
    if question["type"] in ("true_false", "numeric"):
        return data["answer"]
    return data["accept"][0] if data["accept"] else None


def test_served_by_gunicorn(server: Server) -> None:
    http = requests.Session()
    assert http.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = http.get(f"{server.url}/readyz")
    assert ready.status_code == 200, ready.text
    assert http.get(f"{server.url}/openapi.json").json()["paths"]
    assert http.get(f"{server.url}/api/v1/questions").status_code == 401

    student = server.token("student", "e2e-student")
    instructor = server.token("instructor", "e2e-prof")
    listed = http.get(f"{server.url}/api/v1/questions", headers=student).json()
    assert listed["total"] > 20

    # A student answers a bundled quiz and sees the score.
    quizzes = http.get(f"{server.url}/api/v1/quizzes?page_size=100", headers=student).json()
    for summary in quizzes["items"]:
        quiz = http.get(f"{server.url}/api/v1/quizzes/{summary['slug']}", headers=student).json()
        keys = {
            q["slug"]: _right_answer(
                http.get(f"{server.url}/api/v1/questions/{q['slug']}", headers=instructor).json()
            )
            for q in quiz["questions"]
        }
        if None not in keys.values() and all(q["type"] != "code" for q in quiz["questions"]):
            break
    else:
        pytest.fail("no bundled quiz of quick questions")
    started = http.post(f"{server.url}/api/v1/quizzes/{quiz['slug']}/attempts", headers=student)
    assert started.status_code == 201, started.text
    attempt = started.json()["id"]
    for slug, value in keys.items():
        answered = http.put(
            f"{server.url}/api/v1/attempts/{attempt}/answers/{slug}",
            json={"answer": value},
            headers=student,
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["score"] is None
    result = http.post(f"{server.url}/api/v1/attempts/{attempt}/submit", headers=student).json()
    assert result["status"] == "submitted"
    assert result["score"] == result["max_score"] == quiz["max_score"] > 0

    # The request id: echoed when given, made when not, and on the request's log lines.
    traced = f"e2e-{uuid.uuid4().hex}"
    echoed = http.get(f"{server.url}/api/v1/me", headers={**student, "X-Request-ID": traced})
    assert echoed.status_code == 200 and echoed.headers["X-Request-ID"] == traced
    assert len(http.get(f"{server.url}/healthz").headers["X-Request-ID"]) == 32
    missing = http.get(f"{server.url}/api/v1/nothing", headers={"X-Request-ID": f"{traced}-404"})
    assert missing.headers["Content-Type"] == "application/problem+json"
    assert missing.json()["request_id"] == f"{traced}-404"

    # Graceful shutdown on SIGTERM: gunicorn stops its workers and exits cleanly.
    assert server.stop() == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/healthz", timeout=2)

    lines = server.log_lines()
    access = [line for line in lines if line.get("logger") == "holdout.access"]
    assert len(access) >= 10
    assert all(line["request_id"] for line in access)
    mine = [line for line in access if line["request_id"] == traced]
    assert len(mine) == 1
    assert (mine[0]["path"], mine[0]["status"], mine[0]["method"]) == ("/api/v1/me", 200, "GET")
    assert any(line["request_id"] == f"{traced}-404" and line["status"] == 404 for line in access)
    messages = " ".join(line.get("msg", "") for line in lines)
    assert "Handling signal: term" in messages and "Shutting down" in messages
