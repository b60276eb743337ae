"""holdout's grading engine: sandboxed, data-only grading of numpy code (see SPEC.md)."""

# ruff: noqa: E402  (the BLAS settings below must come before any import of numpy)
import os

# A grading process's own numpy work is small (checks on a test's outputs): BLAS worker threads
# would only spin on the cores its sandboxed jobs need. Set before numpy is first imported (the
# package's modules import it); an operator's own setting wins.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

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
