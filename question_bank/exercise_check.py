"""Prove an exercise against its own answers: the reference, the mutants and the equivalents.

Used by `holdout bank check` for every exercise folder and by the API when an instructor posts one.
Everything runs through the grader's sandbox: exercise code is never imported here.
"""

from __future__ import annotations

from typing import Any

from grader import Exercise, ExerciseError, Grader, GradeReport
from grader.spec import property_only_tests
from grader.statistics import statistics_report


def _verdicts(report: GradeReport) -> list[tuple[str, bool]]:
    return [(t.name, t.passed) for t in report.tests]


def _grade_repeatedly(
    grader: Grader, exercise: Exercise, source: str, repeats: int, label: str, problems: list[str]
) -> GradeReport | None:
    reports = [grader.grade(exercise, source) for _ in range(max(1, repeats))]
    first = reports[0]
    if any(_verdicts(r) != _verdicts(first) for r in reports[1:]):
        changed = sorted(
            {
                name
                for r in reports[1:]
                for (name, ok), (_, ok0) in zip(_verdicts(r), _verdicts(first), strict=True)
                if ok != ok0
            }
        )
        problems.append(f"{label}: verdicts differ between repeated runs for {changed}")
    if first.status != "graded":
        problems.append(f"{label}: could not be graded: {first.feedback}")
        return None
    return first


def property_only_problems(exercise: Exercise) -> list[str]:
    """The tests that check no output's value (grader/SPEC.md, "Property-only tests"): each one
    pays code that computes nothing, so the exercise is refused until it checks values too. Static:
    nothing runs."""
    return [f"{exercise.slug}/exercise.yaml: {p}" for p in property_only_tests(exercise)]


def check_exercise(exercise: Exercise, grader: Grader, repeats: int = 2) -> list[str]:
    """Problems found (empty when the exercise is sound). SandboxUnavailable propagates."""
    problems: list[str] = property_only_problems(exercise)
    slug = exercise.slug
    try:
        grader.reference_outputs(exercise)
    except ExerciseError as exc:
        return [*problems, f"{slug}: {exc}"]

    def full_marks(label: str, source: str) -> None:
        report = _grade_repeatedly(grader, exercise, source, repeats, label, problems)
        if report is None:
            return
        for t in report.tests:
            if not t.passed:
                problems.append(f"{label}: fails {t.name!r}: {t.detail}")

    full_marks(f"{slug}/reference.py", exercise.reference)
    for name, source in sorted(exercise.equivalents.items()):
        full_marks(f"{slug}/equivalents/{name}", source)

    for name, source in sorted(exercise.mutants.items()):
        label = f"{slug}/mutants/{name}"
        report = _grade_repeatedly(grader, exercise, source, repeats, label, problems)
        if report is None:
            continue
        if report.score >= report.max_score:
            problems.append(f"{label}: gets full marks")
        misconception = exercise.mutant_misconception(name)
        if misconception and misconception not in report.feedback:
            problems.append(
                f"{label}: its misconception is not recognised on its own outputs (it must fail "
                f"the same tests and return the same values on the visible tests every time): "
                f"{report.feedback}"
            )
        by_name = {t.name: t for t in report.tests}
        for test_name, text in exercise.mutant_expectations(name):
            result = by_name[test_name]
            if result.passed:
                problems.append(f"{label}: should fail {test_name!r} but passes it")
            elif text.lower() not in result.detail.lower():
                problems.append(
                    f"{label}: fails {test_name!r} but its feedback lacks {text!r}: {result.detail}"
                )
    return problems


def exercise_statistics(exercise: Exercise, grader: Grader) -> list[dict[str, Any]]:
    """Each statistical check's sample size, false-fail bound and power, measured on the
    reference's outputs (cached by the grader); empty when the reference cannot be run."""
    try:
        refs = grader.reference_outputs(exercise)
    except ExerciseError:
        return []
    return statistics_report(exercise, refs)
