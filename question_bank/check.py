"""`holdout bank check`: prove the bank is sound, quizzes and exercises alike."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from question_bank.loader import Bank, load_bank
from question_bank.types import (
    check_answer_shape,
    draw_variant,
    full_marks_answers,
    grade_quick,
    resolve,
)


@dataclass
class CheckReport:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    summary: str = ""
    # Per exercise run: {"slug", "problems", "statistics": [...], "mutation": {...}} (the
    # `--json` form; "mutation" is MutationReport.to_dict(), pinned in CONTRACT.md).
    exercises: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.problems,
            "summary": self.summary,
            "problems": list(self.problems),
            "notes": list(self.lines),
            "exercises": list(self.exercises),
            "timings": dict(self.timings),
        }


def _check_answer_key(question: dict[str, Any]) -> list[str]:
    """The key itself must score full marks: catches a numeric answer outside its own tolerance,
    or short-text accept entries that normalization can never produce."""
    qtype = question["type"]
    data = resolve(qtype, question["data"], draw_variant(question["data"], "bank check"))
    return [
        f"{question['slug']}: its own answer {key!r} does not get full marks"
        for key in full_marks_answers(qtype, data)
        if grade_quick(qtype, data, check_answer_shape(qtype, data, key)).fraction != 1.0
    ]


def exercise_questions(bank: Bank) -> tuple[list[dict[str, Any]], list[str]]:
    """Each exercise folder as a `code` question, ready for the database."""
    questions: list[dict[str, Any]] = []
    problems: list[str] = []
    if not bank.exercise_dirs:
        return questions, problems
    from grader import SpecError, load_exercise

    for slug, folder in bank.exercise_dirs.items():
        try:
            exercise = load_exercise(folder)
        except SpecError as exc:
            problems.append(f"{folder}: {exc}")
            continue
        explanation_file = folder / "explanation.md"
        if not explanation_file.is_file():
            problems.append(f"{folder}: explanation.md is missing (shown after grading)")
            continue
        questions.append(
            {
                "slug": slug,
                "type": "code",
                "title": exercise.title,
                "prompt": exercise.prompt,
                "explanation": explanation_file.read_text(encoding="utf-8"),
                "points": float(exercise.max_score),
                "tags": list(exercise.tags),
                "data": {"exercise": exercise.to_dict()},
            }
        )
    return questions, problems


def check_bank(root: Path, run_exercises: bool = True, mutation: bool = True) -> CheckReport:
    """`mutation`: also grade the mutants generated from each reference (question_bank.mutation);
    an unexplained survivor is a problem."""
    report = CheckReport()
    bank = load_bank(root)
    report.problems.extend(bank.problems)
    for question in bank.questions:
        report.problems.extend(_check_answer_key(question))
    in_quiz = {slug for quiz in bank.quizzes for slug in quiz["questions"]}
    for question in bank.questions:
        if question["slug"] not in in_quiz:
            report.lines.append(f"note: {question['slug']} is in no quiz")
    exercises, problems = exercise_questions(bank)
    report.problems.extend(problems)
    if not run_exercises and exercises:
        # Static, so --quick refuses them too (check_exercise does when the exercises run).
        from grader import Exercise
        from question_bank.exercise_check import property_only_problems

        for question in exercises:
            exercise = Exercise.from_dict(question["data"]["exercise"])
            report.problems.extend(
                f"{exercise.slug}: {p}" for p in property_only_problems(exercise)
            )

    if run_exercises and exercises:
        from grader import Exercise, ExerciseError, Grader
        from grader.statistics import describe
        from question_bank.exercise_check import check_exercise, exercise_statistics
        from question_bank.mutation import run_mutation

        own = mutated = 0.0
        with Grader() as grader:
            for question in exercises:
                exercise = Exercise.from_dict(question["data"]["exercise"])
                started = time.monotonic()
                found = check_exercise(exercise, grader)
                own += time.monotonic() - started
                stats = exercise_statistics(exercise, grader)
                entry: dict[str, Any] = {"slug": exercise.slug}
                tail = ""
                result = None
                if mutation:
                    # A reference that cannot be graded is already among `found`.
                    with contextlib.suppress(ExerciseError):
                        result = run_mutation(exercise, grader)
                if result is not None:
                    mutated += result.seconds
                    entry["mutation"] = result.to_dict()
                    tail = (
                        f"; generated mutants: {result.generated} of {result.candidates}, "
                        f"{result.killed} killed, {result.equivalent} equivalent, "
                        f"{len(result.survivors)} survivor(s) ({result.seconds:.1f} s)"
                    )
                    found = found + result.problems()
                entry["problems"] = found
                entry["statistics"] = stats
                report.exercises.append(entry)
                status = "ok" if not found else f"{len(found)} problem(s)"
                report.lines.append(f"exercise {exercise.slug}: {status}{tail}")
                report.lines.extend(f"  statistic: {describe(s)}" for s in stats)
                report.problems.extend(f"{exercise.slug}: {p}" for p in found)
        report.timings = {"exercises_s": round(own, 1), "generated_mutants_s": round(mutated, 1)}
        report.lines.append(
            f"time: {own:.1f} s proving the exercises, {mutated:.1f} s on generated mutants"
        )
    report.summary = (
        f"OK: {len(bank.questions)} questions, {len(exercises)} exercises, "
        f"{len(bank.quizzes)} quizzes" + ("" if run_exercises else " (exercises not run: --quick)")
    )
    return report
