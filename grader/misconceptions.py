"""Feedback that names the misconception: does a submission behave like a known mutant?

A mutant whose file carries a `# misconception: ...` header (SPEC.md, "Mutants that explain") is
run once per exercise version, like the reference; its *profile* is which tests it fails and what it
returned on the visible tests' deterministic steps. A submission matches when it fails exactly the
same tests, at the same step with the same checks failing, and its outputs on those visible steps
agree with the mutant's. Only visible data is
compared, and only the author's sentence reaches the student: a match that rests on hidden tests
names the misconception, never a hidden input or expected value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.checks import compare
from grader.report import TestResult
from grader.spec import Exercise

# The checks that make a step deterministic by the spec's rules (never used on random outputs).
DETERMINISTIC = {"equal", "allclose", "value", "raises"}
RTOL, ATOL = 1e-6, 1e-9
MAX_SHOWN = 2


@dataclass(frozen=True)
class Profile:
    mutant: str
    explanation: str
    # test name -> where it failed (step, failing checks): the tests' verdicts in detail.
    failing: dict[str, tuple[Any, ...]]
    # (test index, step index) -> the mutant's step result, on the visible deterministic steps.
    visible: dict[tuple[int, int], dict[str, Any]]


def comparable_steps(exercise: Exercise) -> list[tuple[int, int]]:
    """The visible steps whose outputs a match compares."""
    return [
        (i, j)
        for i, test in enumerate(exercise.tests)
        if not test.hidden
        for j, step in enumerate(test.steps)
        if any(c["check"] in DETERMINISTIC for c in step.get("expect", []))
    ]


def build_profile(
    exercise: Exercise, mutant: str, outcomes: dict[int, Any], results: list[TestResult]
) -> Profile:
    explanation = exercise.mutant_misconception(mutant) or ""
    visible = {}
    for i, j in comparable_steps(exercise):
        steps = outcomes.get(i)
        if isinstance(steps, list) and j < len(steps):
            visible[(i, j)] = steps[j]
    return Profile(mutant, explanation, _failing(results), visible)


def _failing(results: list[TestResult]) -> dict[str, tuple[Any, ...]]:
    return {r.name: r.failed_at for r in results if not r.passed}


def _same_step(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if "exc" in a or "exc" in b:
        return (
            "exc" in a
            and "exc" in b
            and a["exc"].get("type") == b["exc"].get("type")
            and (a["exc"].get("raised_by") == "submission")
            == (b["exc"].get("raised_by") == "submission")
        )
    if "signature" in a or "signature" in b:
        return "signature" in a and "signature" in b
    if "out" not in a or "out" not in b:
        return False
    return compare(b["out"], a["out"], RTOL, ATOL, exact=False) is None


def matches(
    profile: Profile, exercise: Exercise, outcomes: dict[int, Any], results: list[TestResult]
) -> bool:
    failing = _failing(results)
    if not failing or failing != profile.failing:
        return False
    for (i, j), theirs in profile.visible.items():
        steps = outcomes.get(i)
        if not isinstance(steps, list) or j >= len(steps) or not _same_step(steps[j], theirs):
            return False
    return True


def explain(
    profiles: list[Profile], exercise: Exercise, outcomes: dict[int, Any], results: list[TestResult]
) -> list[str]:
    """The explanations of the known mutants this submission behaves like (at most MAX_SHOWN)."""
    found: list[str] = []
    for profile in profiles:
        known = not profile.explanation or profile.explanation in found
        if not known and matches(profile, exercise, outcomes, results):
            found.append(profile.explanation)
    return found[:MAX_SHOWN]


def feedback_line(explanations: list[str]) -> str:
    return " ".join(f"Possible misconception: {e.rstrip('.')}." for e in explanations)
