"""The `holdout` command line. Commands that need the database run inside the app context."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate.cli import db as migrate_db_group
from sqlalchemy.engine import make_url

from grader.cli import grade_command
from question_bank.check import check_bank, exercise_questions
from question_bank.loader import BUNDLED_DIR, load_bank
from service.app import create_app
from service.config import Settings
from service.models import Role, db

BANK_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


# Commands that run without an existing database: `db` creates it, `lti urls` only needs the app.
WITHOUT_DATABASE = ("db", "lti urls")


class HoldoutGroup(FlaskGroup):
    """Flask's group, less its habit of loading the app to list or find commands: every command
    is ours (flask-migrate's `db` included), so `holdout --help` or `holdout grade` outside the
    project touches no database and creates no instance folder."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return click.Group.list_commands(self, ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return click.Group.get_command(self, ctx, name)

    # Flask wraps every command in an app context, which would load the app (and look for the
    # database) for `bank check` or `config docs` too: commands that need it say @with_appcontext.
    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("with_appcontext", False)
        return super().command(*args, **kwargs)

    def group(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", click.Group)
        return super().group(*args, **kwargs)


def _require_database(url: str) -> None:
    """Stop with a clear message if the database is missing or has no holdout tables, before
    anything creates it (SQLite creates a missing file on first use)."""
    from sqlalchemy import create_engine, inspect

    parsed = make_url(url)
    where = parsed.render_as_string(hide_password=True)
    how = (
        "Run holdout from the folder that holds its instance/ folder, set HOLDOUT_DATABASE_URL "
        "(and HOLDOUT_INSTANCE_DIR), or create the database with `holdout db upgrade`."
    )
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(str(file)).is_file():
        raise click.ClickException(f"No database at {parsed.database}. {how}")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            migrated = inspect(conn).has_table("alembic_version")
    except Exception as exc:  # any driver error: say which, without a traceback
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(f"Cannot reach the database {where}: {reason}") from None
    finally:
        engine.dispose()
    if not migrated:
        raise click.ClickException(f"The database {where} has no holdout tables. {how}")


def _create_app() -> object:
    command = " ".join(click.get_current_context().command_path.split()[1:])
    if not command.startswith(WITHOUT_DATABASE):
        _require_database(Settings.parse().database_url)
    return create_app()


@click.group(
    cls=HoldoutGroup, create_app=_create_app, add_default_commands=False, add_version_option=False
)
@click.version_option(package_name="holdout", prog_name="holdout")
def main() -> None:
    """holdout: quizzes and auto-graded numpy exercises on regularization."""


main.add_command(migrate_db_group, "db")


main.add_command(grade_command, "grade")


@main.command("worker")
@click.option("--threads", type=click.IntRange(1, 64), help="Jobs at once (default: grader slots).")
@click.option(
    "--grace",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds for jobs in flight to finish on SIGTERM before they are given back.",
)
@with_appcontext
def worker(threads: int | None, grace: float) -> None:
    """Grade submissions sent through HOLDOUT_BROKER_URL (Redis or RabbitMQ)."""
    from flask import current_app

    from grader import SandboxUnavailable
    from service.broker import run_worker
    from service.grading import get_grader, grader_slots

    queue = current_app.extensions.get("holdout_broker")
    if queue is None:
        raise click.UsageError("set HOLDOUT_BROKER_URL (redis://... or amqp://...) to run a worker")
    status = get_grader().sandbox_status()
    if not status["ok"]:
        raise SandboxUnavailable("the sandbox lacks " + ", ".join(status["missing"]))
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    run_worker(app, queue, threads or grader_slots(), grace)


@main.group()
def bank() -> None:
    """Check the question bank files or load them into the database."""


@bank.command("check")
@click.argument("directory", type=BANK_DIR, default=BUNDLED_DIR)
@click.option("--quick", is_flag=True, help="Skip running exercises in the sandbox.")
@click.option("--no-mutants", is_flag=True, help="Skip the mutants generated from each reference.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def bank_check(directory: Path, quick: bool, no_mutants: bool, as_json: bool) -> None:
    """Validate every question, quiz and exercise under DIRECTORY; exit 1 on any problem.

    Each exercise's reference is also mutated (question_bank/mutation.py) and every generated
    mutant graded: one that no test fails, and not declared equivalent, is a problem."""
    report = check_bank(directory, run_exercises=not quick, mutation=not no_mutants)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        sys.exit(1 if report.problems else 0)
    for line in report.lines:
        click.echo(line)
    for problem in report.problems:
        click.echo(f"PROBLEM {problem}", err=True)
    if report.problems:
        click.echo(f"{len(report.problems)} problem(s) found.", err=True)
        sys.exit(1)
    click.echo(report.summary)


@bank.command("load")
@click.argument("directory", type=BANK_DIR, default=BUNDLED_DIR)
@click.option("--force", is_flag=True, help="Also overwrite items edited through the API.")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@with_appcontext
def bank_load(directory: Path, force: bool, dry_run: bool) -> None:
    """Load the questions and quizzes under DIRECTORY: create what is missing, update what the
    bank created and nobody edited since; never overwrite an instructor's edit without --force
    (idempotent)."""
    from service.bank import load_bank_into_db

    bank_files = load_bank(directory)
    problems = list(bank_files.problems)
    exercises, exercise_problems = exercise_questions(bank_files)
    problems += exercise_problems
    if problems:
        for problem in problems:
            click.echo(f"PROBLEM {problem}", err=True)
        click.echo("Nothing was loaded: fix the problems above first.", err=True)
        sys.exit(1)
    summary = load_bank_into_db(bank_files, exercises, force=force)
    for label in summary.updated:
        click.echo(f"updated {label}")
    for label, reason in summary.kept:
        click.echo(f"kept {label}: {reason} (--force overwrites it)")
    for label, reason in summary.overwritten:
        click.echo(f"OVERWROTE {label}: {reason}")
    if dry_run:
        db.session.rollback()
        click.echo("Dry run: nothing was changed.")
    else:
        db.session.commit()
    click.echo(
        f"Loaded {len(bank_files.questions) + len(exercises)} questions "
        f"({len(summary.created_or_changed)} new or changed, {summary.unchanged} unchanged) "
        f"and {summary.quizzes} quizzes."
    )


@bank.command("warm")
@with_appcontext
def bank_warm() -> None:
    """Run every code question's reference and known mutants now (in the sandbox), keeping what
    grading learns from them once per version in the instance folder's result cache: without it,
    the first wrong answer to an exercise in each grading process pays for its mutants' runs."""
    from grader import SandboxUnavailable
    from service.grading import close_grader, prepare_exercises

    problems = []

    def done(slug: str, seconds: float, problem: str | None) -> None:
        click.echo(f"{slug}: {'PROBLEM ' + problem if problem else 'ready'} ({seconds:.1f} s)")
        if problem:
            problems.append(slug)

    try:
        prepare_exercises(done)
    except SandboxUnavailable as exc:
        click.echo(f"Nothing was prepared: {exc}", err=True)
        sys.exit(1)
    finally:
        close_grader()
    if problems:
        sys.exit(1)


def _output_names(paths: list[Path]) -> list[str]:
    """The bank file each input's questions go to: its name as a slug, made unique."""
    from question_bank.interop.base import slugify

    names: list[str] = []
    for path in paths:
        stem = slugify(path.stem) or "imported"
        name, n = stem, 1
        while name in names:
            n += 1
            name = f"{stem}-{n}"
        names.append(name)
    return names


def _slugs_elsewhere(directory: Path, names: list[str]) -> set[str]:
    """Slugs of the bank files under DIRECTORY that this import does not write again."""
    import yaml

    taken: set[str] = set()
    folder = directory / "questions"
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        if path.stem in names:
            continue
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for question in doc.get("questions") or [] if isinstance(doc, dict) else []:
            if isinstance(question, dict) and isinstance(question.get("slug"), str):
                taken.add(question["slug"])
    return taken


def _write_into(directory: Path, results: list[Any], names: list[str]) -> None:
    """Each file's questions as DIRECTORY/questions/<file name>.yaml (`holdout bank check`
    reads them)."""
    import yaml

    from question_bank.interop.base import file_form

    folder = directory / "questions"
    folder.mkdir(parents=True, exist_ok=True)
    for result, name in zip(results, names, strict=True):
        if not result.questions:
            continue
        doc = {"questions": [file_form(q) for q in result.questions]}
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


@bank.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "moodle-xml", "gift", "qti"]),
    default="auto",
    show_default=True,
    help="The files' format; auto tells Moodle XML, QTI (1.2, 2.1, 3.0, zip) and GIFT apart.",
)
@click.option(
    "--into",
    "into",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the questions as bank files under DIR/questions/ (one YAML file per input).",
)
@click.option("--load", is_flag=True, help="Upsert the questions into the database.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def bank_import(
    paths: tuple[Path, ...], fmt: str, into: Path | None, load: bool, as_json: bool
) -> None:
    """Read questions from Moodle XML, GIFT or QTI files. Each question is imported whole (with
    its answer key) or refused with the reason; exit 0 once every file was read, 2 if one could
    not be read. With --load, one transaction per file (see service/imports.py)."""
    from question_bank.interop.formats import import_paths

    if into is not None and load:
        raise click.UsageError("give --into DIR or --load, not both")
    # A file written again replaces its own questions; the other bank files keep their slugs.
    names = _output_names(list(paths))
    taken = _slugs_elsewhere(into, names) if into is not None else set()
    results = import_paths(list(paths), fmt, taken)
    if load:
        from flask.cli import ScriptInfo

        from service.imports import load_result

        app = click.get_current_context().ensure_object(ScriptInfo).load_app()
        with app.app_context():
            for result in results:
                if result.error is None:
                    load_result(result, None, None)
    if into is not None:
        _write_into(into, results, names)
    failed = any(r.error is not None for r in results)
    if as_json:
        click.echo(json.dumps({"files": [r.to_dict() for r in results]}, indent=2))
        sys.exit(2 if failed else 0)
    for result in results:
        if result.error is not None:
            click.echo(f"ERROR {result.path}: {result.error}", err=True)
            continue
        click.echo(
            f"{result.path} ({result.format}): {len(result.questions)} imported, "
            f"{len(result.refused)} refused"
        )
        for q in result.questions:
            click.echo(f"  imported {q['slug']} ({q['type']}): {q['title']}")
        for refused in result.refused:
            click.echo(f"  refused {refused.name}: {refused.reason}")
    sys.exit(2 if failed else 0)


@bank.command("export")
@click.argument("directory", type=BANK_DIR, default=BUNDLED_DIR)
@click.option("--format", "fmt", type=click.Choice(["moodle-xml", "qti"]), required=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write (default: standard output). QTI is a zip content package.",
)
def bank_export(directory: Path, fmt: str, out: Path | None) -> None:
    """Write the quick questions under DIRECTORY as Moodle XML or a QTI 2.1 package, so that
    `holdout bank import` reads them back as they are."""
    from question_bank.interop.formats import export_questions, exportable

    bank_files = load_bank(directory)
    if bank_files.problems:
        for problem in bank_files.problems:
            click.echo(f"PROBLEM {problem}", err=True)
        sys.exit(1)
    kept, skipped = exportable(bank_files.questions, fmt)
    for left_out in skipped:
        click.echo(f"skipped {left_out.name}: {left_out.reason}", err=True)
    data = export_questions(kept, fmt)
    if out is None:
        sys.stdout.buffer.write(data)
        return
    out.write_bytes(data)
    click.echo(f"Wrote {len(kept)} questions to {out} ({fmt}).", err=True)


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", required=True, help="The user's name (created if new).")
@click.option("--course", help="Limit the token to one course (by slug).")
@with_appcontext
def token_create(role: str, name: str, course: str | None) -> None:
    """Create a user (if new) and a token for it; the token is printed as the last line.

    `admin` is a site administrator (only this command makes one). With --course an instructor
    token makes its user an instructor of that course only; without, it acts site-wide. A NAME
    that an LMS gave one of its users is refused: a token never joins an LMS user by name."""
    from sqlalchemy import select

    from service.auth import get_or_create_user, issue_token, make_member
    from service.errors import Problem
    from service.models import Course

    scope = None
    if course and role == Role.ADMIN:
        raise click.UsageError("an admin token is site-wide: it takes no --course")
    if course:
        scope = db.session.scalar(select(Course).where(Course.slug == course))
        if scope is None:
            raise click.UsageError(f"no course {course!r}")
    try:
        user = get_or_create_user(name, Role(role))
    except Problem as exc:
        raise click.ClickException(exc.detail) from exc
    if scope is not None:
        make_member(user, scope)
    _, plain = issue_token(user, name=f"cli: {name}", course=scope)
    db.session.commit()
    click.echo(f"Created a {role} token for {name!r} (user id {user.id}). Keep it secret:")
    click.echo(plain)


@main.group("config")
def config_group() -> None:
    """The HOLDOUT_* settings (declared in service/config.py)."""


README_BEGIN = "<!-- configuration table: generated by `holdout config docs`, do not edit -->"
README_END = "<!-- end of configuration table -->"


def readme_with_table(readme: str) -> str:
    """README text with its configuration table replaced by the one generated now."""
    from service.config import docs_table

    before, begin, rest = readme.partition(README_BEGIN)
    _, end, after = rest.partition(README_END)
    if not begin or not end:
        raise click.UsageError(f"the file has no {README_BEGIN} ... {README_END} markers")
    return f"{before}{README_BEGIN}\n{docs_table()}{README_END}{after}"


@config_group.command("docs")
@click.option(
    "--update",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Rewrite the table between the markers in this file (the README) instead of printing.",
)
def config_docs(update: Path | None) -> None:
    """Print the configuration table (Markdown) from the declarations."""
    from service.config import docs_table

    if update is None:
        click.echo(docs_table(), nl=False)
        return
    update.write_text(readme_with_table(update.read_text()))
    click.echo(f"Updated the configuration table in {update}.")


@config_group.command("check")
def config_check() -> None:
    """Read every setting from the environment; exit 1 naming each bad one."""
    from service.config import Settings, declared

    settings = Settings.parse()
    changed = [s.env for s in declared() if os.environ.get(s.env, "").strip()]
    click.echo(f"Configuration is valid ({len(changed)} of {len(declared())} settings set).")
    click.echo(f"Database: {make_url(settings.database_url).render_as_string()}")


@token.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include revoked tokens.")
@with_appcontext
def token_list(show_all: bool) -> None:
    """The tokens (never the secrets themselves): id, prefix, user, role, course, last use."""
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    from service.models import ApiToken

    query = select(ApiToken).options(joinedload(ApiToken.user), joinedload(ApiToken.course))
    if not show_all:
        query = query.where(ApiToken.revoked_at.is_(None))
    tokens = list(db.session.scalars(query.order_by(ApiToken.id)))
    click.echo("id\tprefix\tuser\trole\tcourse\tname\tcreated\tlast used\trevoked")
    for t in tokens:
        fields = [
            t.id,
            t.prefix + "…",
            t.user.name,
            t.user.role.value,
            t.course.slug if t.course else "-",
            t.name,
            _when(t.created_at),
            _when(t.last_used_at),
            _when(t.revoked_at),
        ]
        click.echo("\t".join(str(f) for f in fields))
    if not tokens:
        click.echo("(no tokens)" if show_all else "(no active tokens; --all shows revoked ones)")


def _when(moment: object) -> str:
    return moment.isoformat(timespec="seconds") if moment is not None else "-"  # type: ignore[attr-defined]


@token.command("revoke")
@click.argument("ids", nargs=-1, required=True, metavar="ID_OR_PREFIX...")
@with_appcontext
def token_revoke(ids: tuple[str, ...]) -> None:
    """Revoke tokens by id (as `token list` shows) or by their first characters (hot_...)."""
    from sqlalchemy import select

    from service.auth import hash_token
    from service.models import ApiToken, utcnow

    for given in ids:
        if given.isdigit():
            query = select(ApiToken).where(ApiToken.id == int(given))
        elif len(given) > 16:  # the whole token
            query = select(ApiToken).where(ApiToken.token_hash == hash_token(given))
        else:
            query = select(ApiToken).where(ApiToken.prefix == given.rstrip("…"))
        matches = list(db.session.scalars(query))
        if not matches:
            raise click.ClickException(f"no token {given!r} (see `holdout token list --all`)")
        if len(matches) > 1:
            raise click.ClickException(f"{given!r} matches {len(matches)} tokens: use the id")
        token = matches[0]
        state = "was already revoked"
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            db.session.commit()
            state = "revoked"
        click.echo(f"Token {token.id} ({token.prefix}…, {token.user.name}) {state}.")


from service.lti.cli import lti_group  # noqa: E402

main.add_command(lti_group)
