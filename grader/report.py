"""What grading returns: one result per test and the report for a whole submission."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class TestResult:
    name: str
    passed: bool
    score: float
    max_score: float
    message: str
    hidden: bool
    # The full feedback, also for hidden tests: for exercise checks and logs, never for students.
    detail: str = ""
    # Where it failed: (step index, indices of the failing checks), or ("abnormal", reason); for
    # matching known mutants (grader/misconceptions.py), never shown.
    failed_at: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "score": self.score,
            "max_score": self.max_score,
            "message": self.message,
            "hidden": self.hidden,
        }


@dataclass
class GradeReport:
    status: str  # "graded" | "failed"
    score: float
    max_score: float
    tests: list[TestResult]
    feedback: str
    sandbox: dict[str, Any]
    timings: dict[str, float]
    exercise_version: str
    # The submission's stdout/stderr in its visible run (first output_kib; the hidden run's is
    # dropped), or in its one run for the reference and trusted runs; not part of to_dict().
    output: str = ""
    # Lab exercises only: the curves of the baseline, the student's visible run and the
    # reference's, with the marked epochs (grader/curves.py `lab_report`; SPEC.md).
    lab: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {
            "status": self.status,
            "score": self.score,
            "max_score": self.max_score,
            "tests": [t.to_dict() for t in self.tests],
            "feedback": self.feedback,
            "sandbox": self.sandbox,
            "timings": self.timings,
            "exercise_version": self.exercise_version,
        }
        if self.lab is not None:
            d["lab"] = self.lab
        return d
