"""A real lab submission, end to end in the service: the bundled `lab-regularized-network`
exercise (dropout, weight decay and early stopping) graded by the embedded executor through the
real sandbox (the network trained with the student's pieces), its curves stored by the grade
writer and returned by the API as `curves` and `epochs`, on SQLite and PostgreSQL. Early stopping
with its patience off by one stops at another epoch: the marked epoch says so, and it loses
points."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from question_bank.loader import BUNDLED_DIR
from service import jobs
from service.labs import MAX_EPOCHS
from service.models import Submission, db
from tests.jobs.conftest import load_exercise_question
from tests.jobs.test_embedded_grading import wait_settled

LAB = BUNDLED_DIR / "exercises" / "lab-regularized-network"
REFERENCE = (LAB / "reference.py").read_text()
OFF_BY_ONE = (LAB / "mutants" / "patience_off_by_one.py").read_text()


@pytest.fixture
def lab_app(app: Flask) -> Iterator[Flask]:
    load_exercise_question(app, LAB)
    yield app
    jobs.stop_embedded_executor(app, timeout=20)


def submit(client: FlaskClient, headers: dict[str, str], source: str) -> int:
    made = client.post(
        f"/api/v1/questions/{LAB.name}/submissions", json={"answer": source}, headers=headers
    )
    assert made.status_code == 202, made.get_json()
    return int(made.get_json()["id"])


def test_a_graded_lab_submission_returns_its_curves_and_marked_epochs(
    lab_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    right, wrong = submit(client, student, REFERENCE), submit(client, student, OFF_BY_ONE)
    jobs.start_embedded_executor(lab_app)
    graded = wait_settled(client, student, right)
    assert graded["status"] == "graded" and graded["score"] == graded["max_score"], graded
    curves, epochs = graded["curves"], graded["epochs"]
    assert set(curves) == set(epochs) == {"baseline", "yours", "reference"}
    for run, series in curves.items():
        assert len(series["train"]) == len(series["val"]) <= MAX_EPOCHS
        assert all(v is None or v >= 0 for v in series["train"] + series["val"])
        best = epochs[run]["best"]
        assert best is not None and 1 <= best <= len(series["val"])
        finite = [(v, i + 1) for i, v in enumerate(series["val"]) if v is not None]
        assert min(finite)[1] == best, run  # the best epoch is the lowest validation loss
        stopped = epochs[run]["stopped"]
        assert stopped is None or stopped == len(series["val"]), run  # it trained no further
    assert epochs["baseline"]["stopped"] is None and epochs["yours"]["stopped"] is not None
    assert curves["yours"] == curves["reference"]  # the reference's own code, the same seeds
    assert curves["baseline"]["val"] != curves["yours"]["val"]
    with lab_app.app_context():
        row = db.session.get(Submission, right)
        assert row is not None and row.lab is not None and row.lab["metric"] == "loss"

    broken = wait_settled(client, student, wrong)
    assert broken["status"] == "graded" and broken["score"] < broken["max_score"], broken
    assert broken["epochs"]["yours"]["stopped"] != epochs["reference"]["stopped"]
    assert broken["curves"]["yours"] != broken["curves"]["reference"]
    assert broken["curves"]["reference"] == curves["reference"]
