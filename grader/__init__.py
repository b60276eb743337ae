"""holdout's grading engine: sandboxed, data-only grading of numpy code (see SPEC.md)."""

from grader.engine import ExerciseError, Grader
from grader.pool import SandboxUnavailable
from grader.report import GradeReport, TestResult
from grader.spec import Exercise, SpecError, load_exercise

__all__ = [
    "Exercise",
    "ExerciseError",
    "GradeReport",
    "Grader",
    "SandboxUnavailable",
    "SpecError",
    "TestResult",
    "load_exercise",
]
