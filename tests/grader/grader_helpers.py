"""Helpers for the grader tests: a tiny exercise to attack, uid ranges, process scans."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from grader import Exercise, GradeReport

REPO = Path(__file__).resolve().parents[2]
EXERCISES = REPO / "question_bank" / "content" / "exercises"
SLOTS = 2
# A marker that only the reference source contains; built by concatenation in attacks so that the
# attacking source never contains it literally.
REFERENCE_MARKER = "REFERENCE" + "-ONLY-" + "7f3a9c"

# What an attack in a probe submission raises when it is itself broken (it never ran as meant):
# the probes let these fail the test instead of counting them as the attack being blocked.
ATTACK_BUGS = "NameError, AttributeError, TypeError, SyntaxError, ImportError"

ATTACK_REFERENCE = f"""
import numpy as np

# {REFERENCE_MARKER}
def solve(x):
    return x * 2
"""


def attack_exercise(**limits: float) -> Exercise:
    """`solve(x) = 2 x`: one visible and one hidden test, tight limits so runaway code dies fast."""
    return Exercise.from_dict(
        {
            "slug": "attack-target",
            "title": "Double it",
            "entry": {"name": "solve", "kind": "function", "signature": "solve(x)"},
            "limits": {"wall_seconds": 3, "cpu_seconds": 2, "memory_mib": 512, **limits},
            "tests": [
                {
                    "name": "doubles",
                    "points": 1,
                    "steps": [
                        {
                            "call": {
                                "args": [
                                    {"$array": {"values": [1.0, 2.5, -3.0], "dtype": "float64"}}
                                ]
                            },
                            "expect": [{"check": "equal"}, {"check": "dtype"}],
                        }
                    ],
                },
                {
                    "name": "doubles a hidden input",
                    "points": 2,
                    "hidden": True,
                    "steps": [
                        {
                            "call": {
                                "args": [{"$array": {"random": "normal", "shape": [50], "seed": 3}}]
                            },
                            "expect": [{"check": "allclose", "rtol": 1e-12}, {"check": "dtype"}],
                        }
                    ],
                },
            ],
            "reference": ATTACK_REFERENCE,
        }
    )


# Another run of these tests on the same machine (another checkout, another session) must not use
# the same uids, or "no process left under our uids" would see its jobs: each run takes one of 12
# blocks of 200 uids, chosen by its xdist run id (or this process, without xdist).
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or str(os.getpid())
RUN_BASE = 62000 + 200 * (int(hashlib.sha256(_RUN.encode()).hexdigest(), 16) % 12)


def worker_base_uid() -> int:
    # Each xdist worker gets its own uid range, so "no process left under our uids" is exact.
    # Away from the default 61000 that other suites on the same machine may be using.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    return RUN_BASE + 10 * index


def own_base_uid(n: int) -> int:
    """A uid range of 10 for a test's own Grader (n = 0..9), disjoint from the workers' ones.
    Shared by every xdist worker of the run: each test that may run beside another takes an n
    of its own (engine 0, 1; sandbox 2, 3, 7, 8; the result cache 4-6), or two tests' jobs share
    uids and each sees the other's processes as its own left behind."""
    return RUN_BASE + 100 + 10 * n


def sandbox_processes(uids: set[int]) -> list[int]:
    """Pids of live processes running as any of these uids."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if {int(v) for v in line.split()[1:]} & uids:
                            found.append(int(name))
                        break
        except OSError:
            continue
    return found


def full_marks(report: GradeReport) -> bool:
    return report.status == "graded" and report.score == report.max_score


def nothing_earned(report: GradeReport) -> bool:
    return report.score == 0
