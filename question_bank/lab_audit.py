"""How far a correct lab answer's run can be from the reference's: run the reference's training
loop in the sandbox with K dropout streams and measure what the lab checks measure.

`python -m question_bank.lab_audit SLUG [K]` prints, per measure, the reference's value with the
exercise's own stream, the mean and standard deviation over K other streams, the largest deviation
seen and the tolerance rule's result (the numbers each lab exercise's audit.md quotes). A correct
submission draws its dropout masks in its own way: its run is the reference's with another
stream, which is what varying `dropout_seed` reproduces. Nothing is imported or executed here:
the reference runs in the grader's sandbox like any submission.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any

import numpy as np

from grader import Exercise, Grader
from grader.curves import read_run
from grader.spec import TestSpec

# Upper 99.9 % confidence bound on a standard deviation estimated from K samples (chi-square with
# K - 1 degrees of freedom, lower 0.1 % quantile), times the normal quantile for a two-sided
# false-fail probability of 1e-9 (6.11): see `tolerance`.
Z_1E9 = 6.11
MIN_STREAMS = 10  # below, Wilson-Hilferty's chi-square quantile is too rough


def chi2_lower(dof: int, q: float = 0.001) -> float:
    """The q-quantile of chi-square with `dof` degrees of freedom (Wilson-Hilferty)."""
    z = -3.090232 if q == 0.001 else _normal_quantile(q)
    a = 2.0 / (9.0 * dof)
    return float(dof * (1 - a + z * math.sqrt(a)) ** 3)


def _normal_quantile(q: float) -> float:
    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < q:
            lo = mid
        else:
            hi = mid
    return lo


def tolerance(samples: np.ndarray, reference: float) -> float:
    """How far from the reference's own run a correct run may land: 6.11 sigma (two-sided normal
    tail 1e-9) around the streams' mean, sigma taken at its upper 99.9 % confidence bound from the
    K samples, plus the distance of the reference's run from that mean; never below 1.5 times
    the largest deviation from the reference seen among the K streams."""
    k = samples.size
    if k < MIN_STREAMS:
        raise ValueError(f"at least {MIN_STREAMS} streams (the sd bound needs them)")
    sd = float(samples.std(ddof=1))
    sd_upper = sd * math.sqrt((k - 1) / chi2_lower(k - 1))
    widest = float(np.abs(samples - reference).max())
    return max(Z_1E9 * sd_upper + abs(float(samples.mean()) - reference), 1.5 * widest)


def audit_exercise(exercise: Exercise, grader: Grader, k: int = 30) -> dict[str, Any]:
    """Measures of the reference's run with its own stream and with `k` others."""
    if exercise.lab is None:
        raise ValueError(f"{exercise.slug} is not a lab exercise")
    steps: list[dict[str, Any]] = [{"train": {}, "expect": [{"check": "curves"}]}]
    steps += [
        {"train": {"dropout_seed": 1000 + s}, "expect": [{"check": "curves"}]} for s in range(k)
    ]
    tests = [
        TestSpec(name=f"run {j}", points=1, hidden=False, let={}, steps=[s])
        for j, s in enumerate(steps)
    ]
    limits = {**exercise.limits, "cpu_seconds": 30, "wall_seconds": 60}  # K runs in one job
    probe = dataclasses.replace(exercise, tests=tests, mutants={}, equivalents={}, limits=limits)
    outcomes = grader.reference_outputs(probe)
    runs = [read_run(outcomes[j][0]["out"], exercise.lab) for j in range(len(tests))]
    last = 10
    measures = {
        "best_val_loss": [r.best_val for r in runs],
        f"train_val_gap (last {last})": [r.gap(last) for r in runs],
        "best_epoch": [float(r.best_epoch) for r in runs],
        "epochs_run": [float(r.epochs) for r in runs],
    }
    out: dict[str, Any] = {"slug": exercise.slug, "k": k, "measures": {}}
    for name, values in measures.items():
        own, others = values[0], np.array(values[1:])
        out["measures"][name] = {
            "reference": own,
            "mean": float(others.mean()),
            "sd": float(others.std(ddof=1)),
            "min": float(others.min()),
            "max": float(others.max()),
            "widest_from_reference": float(np.abs(others - own).max()),
            "tolerance": tolerance(others, own),
        }
    return out


def main(argv: list[str]) -> None:
    from grader.cli import resolve_exercise

    exercise = resolve_exercise(argv[0]) if argv else None
    if exercise is None:
        raise SystemExit("usage: python -m question_bank.lab_audit SLUG_OR_DIR [K]")
    k = int(argv[1]) if len(argv) > 1 else 30
    with Grader(slots=1) as grader:
        result = audit_exercise(exercise, grader, k)
    print(f"{result['slug']}: the reference's run and {k} other dropout streams")
    for name, m in result["measures"].items():
        print(
            f"  {name}: reference {m['reference']:.4f}; over {k} streams mean {m['mean']:.4f}, "
            f"sd {m['sd']:.4f}, range [{m['min']:.4f}, {m['max']:.4f}], widest deviation from "
            f"the reference {m['widest_from_reference']:.4f}; tolerance rule: {m['tolerance']:.4f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
