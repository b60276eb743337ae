"""The bundled lab exercises (issue 15): their curves through `holdout grade --json`, wrong
regularizers that lose points with what the curves show, and the tolerance audit behind them.
(`test_bundled_bank.py` proves each of them like every exercise: reference full marks, mutants
failing for their stated reasons, the same verdicts on repeated runs.)"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from grader import Exercise, Grader, load_exercise
from question_bank.lab_audit import audit_exercise, chi2_lower, tolerance
from question_bank.loader import BUNDLED_DIR

LABS = ("lab-dropout", "lab-weight-decay", "lab-early-stopping", "lab-regularized-network")


def lab(slug: str) -> Exercise:
    return load_exercise(BUNDLED_DIR / "exercises" / slug)


@pytest.fixture(scope="module")
def grader() -> Iterator[Grader]:
    with Grader() as found:
        yield found


def failed(grader: Grader, exercise: Exercise, mutant: str) -> dict[str, str]:
    report = grader.grade(exercise, exercise.mutants[mutant])
    assert report.status == "graded"
    return {t.name: t.detail for t in report.tests if not t.passed}


@pytest.mark.parametrize("slug", LABS)
def test_each_lab_is_complete_and_states_its_tolerances(slug: str) -> None:
    exercise = lab(slug)
    folder = BUNDLED_DIR / "exercises" / slug
    assert exercise.lab is not None and "lab" in exercise.tags
    for name in ("prompt.md", "starter.py", "reference.py", "explanation.md", "audit.md"):
        assert (folder / name).read_text(encoding="utf-8").strip(), name
    audit = (folder / "audit.md").read_text(encoding="utf-8")
    assert "question_bank.lab_audit" in audit
    tolerances = [
        c["tolerance"]
        for t in exercise.tests
        for s in t.steps
        for c in s.get("expect", [])
        if c["check"] in ("best_val_loss", "train_val_gap")
    ]
    for value in tolerances:
        assert f"{value:g}" in audit, f"{slug}: tolerance {value} is not explained in audit.md"
    # The curves shown come from a visible run: every lab test is visible.
    assert all(not t.hidden for t in exercise.tests if any("train" in s for s in t.steps))
    assert Exercise.from_dict(exercise.to_dict()).fingerprint == exercise.fingerprint


def test_the_tolerance_rule() -> None:
    assert chi2_lower(29) == pytest.approx(10.99, abs=0.15)  # tables: 10.986 (Wilson-Hilferty)
    assert chi2_lower(9) == pytest.approx(1.152, abs=0.1)  # tables: 1.152
    same = np.full(30, 0.25)
    assert tolerance(same, 0.25) == 0.0
    spread = np.linspace(0.3, 0.4, 30)
    sd_upper = spread.std(ddof=1) * np.sqrt(29 / chi2_lower(29))
    assert tolerance(spread, 0.35) == pytest.approx(6.11 * sd_upper)
    assert tolerance(spread, 0.30) == pytest.approx(6.11 * sd_upper + 0.05)
    assert tolerance(np.array([0.0] * 9 + [1.0]), 0.0) >= 1.5
    with pytest.raises(ValueError, match="at least 10"):
        tolerance(np.array([0.0, 1.0, 2.0]), 0.0)


def test_the_audit_runs_the_reference_in_the_sandbox(grader: Grader) -> None:
    result = audit_exercise(lab("lab-early-stopping"), grader, k=10)
    measures = result["measures"]
    # No dropout piece: every stream gives the same run.
    assert measures["best_val_loss"]["sd"] == 0.0
    assert measures["epochs_run"]["reference"] == 13.0
    assert measures["best_epoch"]["reference"] == 3.0


def test_holdout_grade_json_carries_the_curves(tmp_path: Path) -> None:
    exercise = lab("lab-early-stopping")
    answer = tmp_path / "answer.py"
    answer.write_text(exercise.reference, encoding="utf-8")
    holdout = str(Path(sys.executable).with_name("holdout"))
    run = subprocess.run(
        [holdout, "grade", "--json", "lab-early-stopping", str(answer)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(run.stdout)
    assert report["score"] == report["max_score"]
    lab_part = report["lab"]
    assert lab_part["metric"] == "loss"
    assert lab_part["epochs"]["baseline"] == {"best": 3, "stopped": None}
    assert lab_part["epochs"]["yours"] == {"best": 3, "stopped": 13}
    assert lab_part["epochs"]["reference"] == {"best": 3, "stopped": 13}
    assert len(lab_part["curves"]["baseline"]["val"]) == 100
    assert len(lab_part["curves"]["yours"]["train"]) == 13
    # The baseline overfits: its last validation loss is far above its best.
    val = lab_part["curves"]["baseline"]["val"]
    assert val[-1] > min(val) + 0.05


def test_no_inverted_scaling_overfits_in_the_dropout_lab(grader: Grader) -> None:
    fails = failed(grader, lab("lab-dropout"), "no_scaling.py")
    assert "the network still overfits" in fails["validation loss at the best epoch"]
    gap = fails["train-validation gap"]
    assert "vs about 0.108 for the reference" in gap and "split apart" in gap
    assert "eval mode leaves the network whole" not in fails


def test_dropout_in_eval_mode_shows_in_the_dropout_lab(grader: Grader) -> None:
    fails = failed(grader, lab("lab-dropout"), "drops_in_eval_mode.py")
    assert "without dropout" in fails["eval mode leaves the network whole"]


def test_decay_on_biases_changes_the_curves(grader: Grader) -> None:
    fails = failed(grader, lab("lab-weight-decay"), "decays_biases.py")
    assert "leaves the reference's at epoch 2" in fails["the curves are the reference's"]
    assert "too strong" in fails["train-validation gap"]
    assert "biases" in fails["biases keep their gradient"]


def test_no_decay_is_the_baseline(grader: Grader) -> None:
    exercise = lab("lab-weight-decay")
    report = grader.grade(exercise, exercise.mutants["no_decay.py"])
    assert report.lab is not None
    assert report.lab["curves"]["yours"] == report.lab["curves"]["baseline"]
    assert "memorizes" in {t.name: t.detail for t in report.tests}["train-validation gap"]


def test_patience_off_by_one_in_the_early_stopping_lab(grader: Grader) -> None:
    fails = failed(grader, lab("lab-early-stopping"), "patience_off_by_one.py")
    assert (
        "your run stopped after epoch 14, but on your own validation curve the last improvement "
        "is at epoch 3, so with patience 10 training stops after epoch 13"
    ) in fails["the run stops where the curve says"]
