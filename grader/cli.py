"""`holdout grade SLUG_OR_DIR FILE [--json]` (pinned in CONTRACT.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from grader.engine import ExerciseError, Grader, GradeReport, SandboxUnavailable
from grader.spec import SLUG_RE, Exercise, SpecError, load_exercise

# The bundled bank sits next to this package, both in a checkout and in an installed wheel.
EXERCISES_DIR = Path(__file__).resolve().parent.parent / "question_bank" / "content" / "exercises"


def resolve_exercise(slug_or_dir: str) -> Exercise:
    path = Path(slug_or_dir)
    if (path / "exercise.yaml").is_file():
        folder = path
    elif SLUG_RE.match(slug_or_dir) and (EXERCISES_DIR / slug_or_dir / "exercise.yaml").is_file():
        folder = EXERCISES_DIR / slug_or_dir
    else:
        raise click.UsageError(
            f"unknown exercise {slug_or_dir!r}: neither a folder with exercise.yaml nor a "
            f"slug under {EXERCISES_DIR}"
        )
    try:
        return load_exercise(folder)
    except (SpecError, OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"invalid exercise {slug_or_dir!r}: {exc}") from exc


def render_table(exercise: Exercise, report: GradeReport) -> str:
    lines = [f"{exercise.slug}: {exercise.title}", ""]
    width = max(len(t.name) for t in report.tests)
    for t in report.tests:
        verdict = "PASS" if t.passed else "FAIL"
        hidden = " (hidden)" if t.hidden else ""
        lines.append(
            f"  {verdict}  {t.score:>4g}/{t.max_score:<4g} {t.name:<{width}}{hidden}".rstrip()
        )
        if not t.passed and t.message not in ("not run",):
            for line in t.message.splitlines():
                lines.append(f"        {line}")
    lines.append("")
    if report.status == "failed":
        lines.append(report.feedback)
    lines.append(f"Score: {report.score:g} / {report.max_score:g} ({report.status})")
    return "\n".join(lines)


@click.command("grade")
@click.argument("slug_or_dir")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def grade_command(slug_or_dir: str, file: str, as_json: bool) -> None:
    """Grade FILE against an exercise (a bundled slug or a folder), in the sandbox.

    Exit status 0 once graded, whatever the score; 2 for usage errors.
    """
    exercise = resolve_exercise(slug_or_dir)
    try:
        source = Path(file).read_bytes()
    except OSError as exc:
        raise click.UsageError(f"cannot read {file}: {exc.strerror or exc}") from exc
    try:
        with Grader(slots=1) as grader:
            report = grader.grade(exercise, source)
    except SandboxUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    except ExerciseError as exc:
        click.echo(f"error: the exercise is broken: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(render_table(exercise, report))


if __name__ == "__main__":
    grade_command()
