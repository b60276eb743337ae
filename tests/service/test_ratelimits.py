"""The request budget as a client sees it: a 429 problem with Retry-After once it is spent, the
budget left in headers, and limits that still hold when the shared counter store is down."""

from __future__ import annotations

import dataclasses
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from service.app import create_app
from service.ratelimits import SqliteFileStorage
from tests.helpers import assert_problem

# The app's database does not matter here: SQLite only.
on_sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("storage", ["memory://", "redis://127.0.0.1:{port}/0"])
@on_sqlite
def test_a_spent_budget_answers_429_with_retry_after(
    app: Flask, student: dict[str, str], storage: str
) -> None:
    # memory:// is the shared file of the instance folder; a Redis nobody listens on stands for
    # a shared store that is down, where counting goes on in the process.
    settings = dataclasses.replace(
        app.config["HOLDOUT_SETTINGS"],
        rate_limit="3 per minute",
        rate_limit_storage=storage.format(port=closed_port()),
    )
    client = create_app(settings).test_client()
    answers = [client.get("/api/v1/me", headers=student) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    refused = client.get("/api/v1/me", headers=student)
    assert_problem(refused, 429, "3 per 1 minute")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert client.get("/healthz").status_code == 200  # not counted


COUNT_IN_THREADS = """
import sys, threading
from service.ratelimits import SqliteFileStorage
storage = SqliteFileStorage("holdout+sqlite://" + sys.argv[1])
def spend():
    for _ in range(150):
        storage.incr("requests/user:1", 60)
threads = [threading.Thread(target=spend) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
"""


def test_the_shared_counter_loses_no_request_across_processes_and_threads(
    tmp_path: Path,
) -> None:
    """Every gunicorn worker (and each of its threads) counts into one file: 2 x 4 x 150."""
    path = tmp_path / "rate-limits.sqlite"
    SqliteFileStorage(f"holdout+sqlite://{path}")  # creates the table before they race
    counting = [
        subprocess.Popen([sys.executable, "-c", COUNT_IN_THREADS, str(path)]) for _ in range(2)
    ]
    assert [p.wait(timeout=120) for p in counting] == [0, 0]
    # Read by a connection of its own: each increment was committed when it returned.
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM counters").fetchall() == [(1200,)]
    fresh = SqliteFileStorage(f"holdout+sqlite://{path}")
    assert fresh.incr("requests/user:1", 60) == 1201
    assert fresh.incr("requests/user:2", 60) == 1
