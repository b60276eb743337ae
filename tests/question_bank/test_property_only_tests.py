"""No exercise test may pay code that computes nothing: `holdout bank check` refuses a test none
of whose checks looks at an output's value (grader/SPEC.md, "Property-only tests")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from grader import load_exercise
from grader.spec import property_only_tests
from question_bank.check import check_bank
from question_bank.loader import BUNDLED_DIR

EXERCISES = sorted(p for p in (BUNDLED_DIR / "exercises").iterdir() if p.is_dir())


@pytest.mark.parametrize("folder", EXERCISES, ids=[p.name for p in EXERCISES])
def test_every_bundled_test_checks_a_value(folder: Path) -> None:
    assert property_only_tests(load_exercise(folder)) == []


def _bank_with(tmp_path: Path, slug: str) -> Path:
    root = tmp_path / "bank"
    (root / "exercises").mkdir(parents=True)
    shutil.copytree(BUNDLED_DIR / "exercises" / slug, root / "exercises" / slug)
    return root


def test_a_test_of_inputs_unchanged_alone_is_refused_by_the_bank_check(tmp_path: Path) -> None:
    root = _bank_with(tmp_path, "weight-decay-step")
    spec_file = root / "exercises" / "weight-decay-step" / "exercise.yaml"
    assert check_bank(root, run_exercises=False).problems == []
    spec = yaml.safe_load(spec_file.read_text())
    (test,) = [t for t in spec["tests"] if t["name"] == "inputs are left unchanged"]
    for step in test["steps"]:
        step["expect"] = [c for c in step["expect"] if c["check"] == "inputs_unchanged"]
    spec_file.write_text(yaml.safe_dump(spec, sort_keys=False))

    (problem,) = check_bank(root, run_exercises=False).problems
    assert problem.startswith("weight-decay-step: weight-decay-step/exercise.yaml: ")
    assert "test 'inputs are left unchanged': none of its checks looks at an output's value" in (
        problem
    )
    assert "['inputs_unchanged']" in problem and "add a check of the values" in problem
    assert "allclose" in problem


def test_a_test_of_refusals_alone_is_accepted(tmp_path: Path) -> None:
    # Every checked step expects an exception: the test grades the refusal, which a stub lacks.
    root = _bank_with(tmp_path, "weight-decay-step")
    spec_file = root / "exercises" / "weight-decay-step" / "exercise.yaml"
    spec = yaml.safe_load(spec_file.read_text())
    assert any(
        all(any(c["check"] == "raises" for c in s["expect"]) for s in t["steps"])
        for t in spec["tests"]
    )
    assert check_bank(root, run_exercises=False).problems == []
