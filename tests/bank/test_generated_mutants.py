"""Mutants generated from a reference (question_bank/mutation.py): the operators propose the
mutants a student would write, ids are stable, `holdout bank check` grades them in the sandbox,
reports them (`--json`), fails on a survivor and respects equivalent_mutants.yaml; and every
bundled exercise kills or explains each of its generated mutants."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from grader import Grader, load_exercise
from question_bank.check import check_bank
from question_bank.loader import BUNDLED_DIR
from question_bank.mutation import Mutant, all_mutants, mutant_id, run_mutation, select

EXERCISES = sorted(p for p in (BUNDLED_DIR / "exercises").iterdir() if p.is_dir())

SOURCE = """import numpy as np


def dropout(x, p, training=True, rng=None):
    if not 0 <= p < 1:
        raise ValueError(f"p must be in [0, 1), got {p!r}")
    if not training:
        return x.copy()
    keep = rng.random(x.shape) >= p
    start = int(rng.integers(0, x.shape[0]))
    scale = x.max(axis=1, keepdims=True) - x.min(axis=1, keepdims=True)
    return (x * keep / (1 - p)).astype(x.dtype, copy=False), scale, start
"""


def changes(mutant: Mutant) -> tuple[str, str]:
    """The (removed, added) line of a one-line mutant, stripped."""
    lines = mutant.diff.splitlines()
    removed = [ln[1:].strip() for ln in lines if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:].strip() for ln in lines if ln.startswith("+") and not ln.startswith("+++")]
    return "\n".join(removed), "\n".join(added)


def added_lines(source: str, operator: str) -> set[str]:
    return {changes(m)[1] for m in all_mutants(source) if m.operator == operator}


def test_each_operator_proposes_the_mistakes_students_make() -> None:
    assert "keep = rng.random(x.shape) > p" in added_lines(SOURCE, "comparison")
    assert "if not 0 <= p <= 1:" in added_lines(SOURCE, "comparison")
    off = added_lines(SOURCE, "off_by_one")
    assert "start = int(rng.integers(0, x.shape[0] - 1))" in off
    assert "start = int(rng.integers(0, x.shape[0] + 1))" in off
    complement = added_lines(SOURCE, "complement")
    assert "keep = rng.random(x.shape) >= 1 - p" in complement
    assert "return (x * keep / (p)).astype(x.dtype, copy=False), scale, start" in complement
    axis = added_lines(SOURCE, "axis")
    assert "scale = x.max(axis=0, keepdims=True) - x.min(axis=1, keepdims=True)" in axis
    assert "scale = x.max(keepdims=True) - x.min(axis=1, keepdims=True)" in axis  # global
    assert "scale = x.max(axis=1) - x.min(axis=1, keepdims=True)" in added_lines(SOURCE, "keepdims")
    assert "scale = x.min(axis=1, keepdims=True) - x.min(axis=1, keepdims=True)" in added_lines(
        SOURCE, "reduction"
    )
    assert "return x" in added_lines(SOURCE, "no_copy")
    returned = added_lines(SOURCE, "return_input")
    assert "return (x, scale, start)" in returned or "return x, scale, start" in returned
    assert "keep = rng.random(x.shape) >= p" not in added_lines(SOURCE, "swap_args")
    assert "return (x * keep / (1 - p)).astype(x.dtype, copy=False), start, scale" not in (
        added_lines(SOURCE, "swap_args")
    )  # tuple elements are not call arguments
    assert "return (x * keep).astype(x.dtype, copy=False), scale, start" in added_lines(
        SOURCE, "drop_term"
    )
    dtype = added_lines(SOURCE, "dtype")
    assert "return x * keep / (1 - p), scale, start" in dtype
    assert any(a.startswith("return np.asarray((x * keep / (1 - p)).astype(") for a in dtype)
    assert "pass" in added_lines(SOURCE, "no_validation")
    assert added_lines("def f(x):\n    x = x - x.max()\n    return x\n", "in_place") == {
        "x -= x.max()"
    }


def test_mutants_are_valid_distinct_and_leave_error_messages_alone() -> None:
    mutants = all_mutants(SOURCE)
    assert len({m.id for m in mutants}) == len(mutants)
    for m in mutants:
        compile(m.source, "mutant.py", "exec")
        assert m.source != SOURCE
        assert 'raise ValueError(f"p must be in [0, 1), got {p!r}")' in m.source or (
            m.operator == "no_validation"
        )
        removed, _ = changes(m)
        assert m.line == 1 + SOURCE.splitlines().index(
            next(ln for ln in SOURCE.splitlines() if ln.strip() == removed.splitlines()[0])
        )
    # only the mutated node's text changes: the rest of the reference is kept byte for byte
    one = next(m for m in mutants if m.operator == "comparison")
    assert len([ln for ln in one.diff.splitlines() if ln.startswith("+ ")]) <= 1
    assert one.source.count("\n") == SOURCE.count("\n")


def test_ids_survive_edits_elsewhere_and_selection_is_bounded() -> None:
    before = {m.id for m in all_mutants(SOURCE)}
    edited = SOURCE + "\n\n# a comment added at the end\n"
    assert {m.id for m in all_mutants(edited)} == before
    diff = "--- a\n+++ b\n@@ -3 +3 @@\n-    y = x  \n+    y = x.copy()\n"
    assert mutant_id("no_copy", 3, diff) == mutant_id("no_copy", 3, diff.replace("  \n", "\n"))
    assert mutant_id("no_copy", 3, diff).startswith("no_copy:3:")
    mutants = all_mutants(SOURCE)
    chosen = select(mutants, 10)
    assert len(chosen) == 10 and chosen == select(mutants, 10)
    assert len({m.operator for m in chosen}) == 10  # round robin: every kind gets a turn


@pytest.fixture(scope="module")
def grader() -> Iterator[Grader]:
    with Grader() as found:
        yield found


def weak_bank(tmp_path: Path) -> Path:
    """A bank with one exercise whose tests never exercise the dtype: `.astype(...)` removed
    survives."""
    root = tmp_path / "bank"
    folder = root / "exercises" / "weight-decay-step"
    shutil.copytree(BUNDLED_DIR / "exercises" / "weight-decay-step", folder)
    (folder / "equivalent_mutants.yaml").unlink(missing_ok=True)
    spec = yaml.safe_load((folder / "exercise.yaml").read_text())
    spec["tests"] = [t for t in spec["tests"] if t["name"] == "worked example"]
    for step in spec["tests"][0]["steps"]:
        step["expect"] = [c for c in step["expect"] if c["check"] != "dtype"]
    spec["points"] = sum(t.get("points", 1) for t in spec["tests"])
    mutants = folder / "mutants"
    for m in mutants.iterdir():
        expects = [ln for ln in m.read_text().splitlines() if ln.startswith("# expect:")]
        if not all(ln.startswith("# expect: worked example:") for ln in expects):
            m.unlink()
    (mutants / "no_decay.py").write_text(
        "# expect: worked example: expected w - lr * (grad + weight_decay * w)\n"
        "def weight_decay_step(w, grad, lr, weight_decay):\n"
        "    return w - lr * grad\n"
    )
    (folder / "exercise.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def test_a_survivor_fails_bank_check_and_an_equivalence_entry_explains_it(tmp_path: Path) -> None:
    root = weak_bank(tmp_path)
    env = {**os.environ, "HOLDOUT_DATABASE_URL": f"sqlite:///{tmp_path}/unused.db"}
    holdout = str(Path(sys.executable).with_name("holdout"))
    run = subprocess.run(
        [holdout, "bank", "check", str(root), "--json"], capture_output=True, text=True, env=env
    )
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    (entry,) = report["exercises"]
    mutation = entry["mutation"]
    assert set(mutation) >= {"generated", "killed", "equivalent", "survivors"}
    assert mutation["generated"] == mutation["killed"] + mutation["equivalent"] + len(
        mutation["survivors"]
    )
    survivors = mutation["survivors"]
    assert survivors and all(set(s) >= {"operator", "line", "diff", "id"} for s in survivors)
    dropped_cast = next(s for s in survivors if "astype" in s["diff"])
    assert dropped_cast["operator"] == "dtype"
    assert dropped_cast["diff"].startswith("--- reference.py\n+++ mutant.py\n")
    assert any(dropped_cast["id"] in p for p in report["problems"])
    assert report["timings"]["generated_mutants_s"] >= 0

    # Declaring every survivor equivalent (with a reason) makes them count as equivalent; an
    # entry the reference no longer generates is reported, not silently kept.
    folder = root / "exercises" / "weight-decay-step"
    declared = {s["id"]: "accepted for this test" for s in survivors}
    declared["dtype:99:0123abcd"] = "a mutant that does not exist"
    (folder / "equivalent_mutants.yaml").write_text(yaml.safe_dump(declared))
    fixed = check_bank(root)
    (entry,) = fixed.exercises
    assert entry["mutation"]["equivalent"] == len(survivors)
    assert entry["mutation"]["survivors"] == []
    assert entry["mutation"]["stale_equivalents"] == ["dtype:99:0123abcd"]
    assert len(fixed.problems) == 1 and "dtype:99:0123abcd" in fixed.problems[0]
    assert any("generated mutants:" in line and "0 survivor(s)" in line for line in fixed.lines)

    declared = {s["id"]: "" for s in survivors}
    (folder / "equivalent_mutants.yaml").write_text(yaml.safe_dump(declared))
    assert any("reason" in p for p in check_bank(root).problems)


@pytest.mark.parametrize("folder", EXERCISES, ids=[p.name for p in EXERCISES])
def test_every_generated_mutant_is_killed_or_explained(folder: Path, grader: Grader) -> None:
    exercise = load_exercise(folder)
    report = run_mutation(exercise, grader)
    assert report.generated >= 10
    assert report.problems() == []


def test_outputs_of_an_unexpected_shape_fail_the_check_instead_of_crashing_the_grader(
    grader: Grader,
) -> None:
    # Both were found by generated mutants (a scalar where an array was expected, and an input
    # returned in place of a 1-D output): the grader raised instead of failing the test.
    from grader import Exercise

    exercise = Exercise.from_dict(
        {
            "slug": "shapes",
            "title": "Shapes",
            "entry": {"name": "f", "kind": "function", "signature": "f(x)"},
            "reference": "def f(x):\n    return x * 2\n",
            "tests": [
                {
                    "name": "each element is doubled",
                    "steps": [
                        {
                            "call": {"args": [{"$array": {"values": [[1.0, 2.0]]}}]},
                            "expect": [
                                {"check": "each_of", "choices": [2, 4]},
                                {
                                    "check": "all",
                                    "that": {"$ge": [{"$sum": {"of": {"$out": []}, "axis": 1}}, 0]},
                                },
                            ],
                        }
                    ],
                }
            ],
        }
    )
    assert grader.grade(exercise, exercise.reference).score == 1
    report = grader.grade(exercise, "def f(x):\n    return 3.0\n")
    assert report.status == "graded" and report.score == 0
    # The parent's shape guard fails the step before either check computes on the scalar.
    assert "expected an output of shape (1, 2), got shape ()" in report.tests[0].detail


def test_mutants_meet_the_quick_tests_first_and_the_statistical_ones_one_by_one() -> None:
    from question_bank.mutation import stages

    mixup = load_exercise(BUNDLED_DIR / "exercises" / "mixup")
    parts = stages(mixup)
    assert sorted(t.name for p in parts for t in p.tests) == sorted(t.name for t in mixup.tests)
    assert all(s.get("repeat", 1) <= 10 for t in parts[0].tests for s in t.steps)
    costs = [sum(s.get("repeat", 1) for s in p.tests[0].steps) for p in parts[1:]]
    assert costs == sorted(costs) and all(len(p.tests) == 1 for p in parts[1:])
    l1 = load_exercise(BUNDLED_DIR / "exercises" / "l1-penalty")
    assert stages(l1) == [l1]
