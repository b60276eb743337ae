"""Grading jobs are counted by outcome and timed, for /metrics."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from service import jobs
from tests.jobs.conftest import read_answer
from tests.jobs.processes import wait_until
from tests.jobs.test_embedded_grading import submit, wait_settled


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_jobs_are_counted_by_outcome_and_timed(
    dropout_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    before = {
        "graded": value("holdout_jobs_total", outcome="graded"),
        "failed": value("holdout_jobs_total", outcome="failed"),
        "timed": value("holdout_grading_duration_seconds_count"),
        "lag": value("holdout_grading_lag_seconds_count"),
    }
    good = submit(client, student, read_answer("reference"))
    broken = submit(client, student, "def dropout(x, p:\n")
    scraped = client.get("/metrics").get_data(as_text=True)
    assert "holdout_queue_depth 2.0" in scraped  # both wait: no grader runs yet
    jobs.start_embedded_executor(dropout_app)
    assert wait_settled(client, student, good["id"])["status"] == "graded"
    assert wait_settled(client, student, broken["id"])["status"] == "failed"
    expected = {
        "graded": before["graded"] + 1,
        "failed": before["failed"] + 1,
        "timed": before["timed"] + 2,
        "lag": before["lag"] + 2,
    }

    def counted() -> dict[str, float]:
        return {
            "graded": value("holdout_jobs_total", outcome="graded"),
            "failed": value("holdout_jobs_total", outcome="failed"),
            "timed": value("holdout_grading_duration_seconds_count"),
            "lag": value("holdout_grading_lag_seconds_count"),
        }

    # A job is counted once its grade is written, so a scrape may briefly lag the row it reads.
    wait_until(lambda: counted() == expected, 10, "the jobs' counts")
    assert counted() == expected
    assert "holdout_queue_depth 0.0" in client.get("/metrics").get_data(as_text=True)
