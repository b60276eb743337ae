"""The real `holdout` command, run as a subprocess against a temporary SQLite database."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from question_bank.loader import BUNDLED_DIR, load_bank
from service.app import create_app
from tests.conftest import make_settings
from tests.helpers import bearer

HOLDOUT = str(Path(sys.executable).with_name("holdout"))


def bank_dir(tmp_path: Path) -> Path:
    """The bundled bank; without a grader to read exercises, a copy of its questions and quizzes."""
    try:
        from grader import load_exercise  # noqa: F401
    except ImportError:
        copy = tmp_path / "bank"
        for part in ("questions", "quizzes"):
            shutil.copytree(BUNDLED_DIR / part, copy / part)
        return copy
    return BUNDLED_DIR


class Cli:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.database = workdir / "holdout.db"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDOUT_")}
        self.env |= {
            "HOLDOUT_DATABASE_URL": f"sqlite:///{self.database}",
            "HOLDOUT_INSTANCE_DIR": str(workdir / "instance"),
            "HOLDOUT_LOG_LEVEL": "WARNING",
        }

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [HOLDOUT, *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert done.returncode == 0, done.stdout + done.stderr
        return done


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    run = Cli(tmp_path)
    run("db", "upgrade")
    return run


def test_token_create_prints_a_working_token_last(cli: Cli, tmp_path: Path) -> None:
    done = cli("token", "create", "--role", "student", "--name", "ada")
    token = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"hot_[A-Za-z0-9_-]{40,}", token), done.stdout

    app = create_app(make_settings(f"sqlite:///{cli.database}", tmp_path / "app"))
    me = app.test_client().get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200, me.get_json()
    assert (me.get_json()["name"], me.get_json()["role"]) == ("ada", "student")

    # Stored hashed: the plain token is nowhere in the database.
    with sqlite3.connect(cli.database) as conn:
        dump = "\n".join(conn.iterdump())
    assert token not in dump and "ada" in dump


def test_token_create_checks_its_arguments(cli: Cli) -> None:
    refused = cli("token", "create", "--role", "root", "--name", "x", ok=False)
    assert refused.returncode == 2 and "root" in refused.stderr
    scoped = cli("token", "create", "--role", "admin", "--name", "x", "--course", "c", ok=False)
    assert scoped.returncode == 2 and "site-wide" in scoped.stderr
    unknown = cli("token", "create", "--role", "lms", "--name", "x", "--course", "nope", ok=False)
    assert unknown.returncode == 2 and "nope" in unknown.stderr


def test_token_create_refuses_a_name_an_lms_launch_gave(cli: Cli, tmp_path: Path) -> None:
    from service.lti.platforms import jwks_cache
    from tests.lti.conftest import TOOL_BASE, launch, tool_jwks
    from tests.lti.platform import FakePlatform

    admin = cli("token", "create", "--role", "admin", "--name", "root").stdout.splitlines()[-1]
    app = create_app(make_settings(f"sqlite:///{cli.database}", tmp_path / "app"))
    client = app.test_client()
    jwks_cache.clear()
    lms = FakePlatform(TOOL_BASE, lambda: tool_jwks(app)).start()
    try:
        registered = client.post(
            "/api/v1/lti/platforms", json=lms.registration(), headers=bearer(admin)
        )
        assert registered.status_code == 201, registered.get_json()
        launch(client, lms, lms.claims("alice"))  # the LMS's "Alice Learner", a learner
    finally:
        lms.stop()
        jwks_cache.clear()
    lms_user = client.get("/api/v1/me").get_json()  # her LTI session
    assert lms_user["name"] == "Alice Learner"

    refused = cli("token", "create", "--role", "student", "--name", "Alice Learner", ok=False)
    assert refused.returncode == 1 and "hot_" not in refused.stdout
    assert "Alice Learner" in refused.stderr and "Fake LMS" in refused.stderr
    assert "another name" in refused.stderr
    listed = cli("token", "list").stdout
    assert "Alice Learner" not in listed
    # Another role's "Alice Learner" is nobody the LMS made: a new user, as before.
    made = cli("token", "create", "--role", "instructor", "--name", "Alice Learner").stdout
    assert f"(user id {lms_user['id']})" not in made


def test_bank_check_quick_passes_on_the_bundled_bank(cli: Cli, tmp_path: Path) -> None:
    done = cli("bank", "check", "--quick", str(bank_dir(tmp_path)))
    assert done.stdout.strip().splitlines()[-1].startswith("OK:")


def test_bank_check_json_reports_the_same(cli: Cli, tmp_path: Path) -> None:
    done = cli("bank", "check", "--quick", "--json", str(bank_dir(tmp_path)))
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["problems"] == []
    assert report["summary"].startswith("OK:") and report["exercises"] == []


def test_bank_check_and_load_refuse_a_broken_bank(cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / "questions").mkdir(parents=True)
    (broken / "questions" / "bad.yaml").write_text(
        "questions:\n"
        "  - slug: bad-numeric\n"
        "    type: numeric\n"
        "    title: Bad\n"
        "    prompt: p\n"
        "    explanation: e\n"
        "    answer: 1.0\n"
        "    tolerance: {abs: -1}\n"
    )
    checked = cli("bank", "check", "--quick", str(broken), ok=False)
    assert checked.returncode == 1 and "bad-numeric" in checked.stderr
    loaded = cli("bank", "load", str(broken), ok=False)
    assert loaded.returncode == 1 and "Nothing was loaded" in loaded.stderr
    with sqlite3.connect(cli.database) as conn:
        assert conn.execute("SELECT count(*) FROM questions").fetchone() == (0,)


def test_bank_check_and_load_refuse_a_final_reusing_a_practice_quizs_question(
    cli: Cli, tmp_path: Path
) -> None:
    """The bundled final with a practice quiz's question back in it (why its first seal was
    reverted: every practice quiz then hid that question's review, and its total, from students)."""
    bank = tmp_path / "bank"
    for part in ("questions", "quizzes"):
        shutil.copytree(BUNDLED_DIR / part, bank / part)
    final = bank / "quizzes" / "regularization-final.yaml"
    text = final.read_text()
    assert "  - final-dropout-train-and-eval\n" in text
    final.write_text(text.replace("final-dropout-train-and-eval", "dropout-eval-mode"))
    checked = cli("bank", "check", "--quick", str(bank), ok=False)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    (problem,) = [line for line in checked.stderr.splitlines() if line.startswith("PROBLEM")]
    assert f"{final}: assessment 'regularization-final' shares questions with" in problem
    assert (
        "practice quiz 'dropout-mechanics'" in problem and problem.count("dropout-eval-mode") == 1
    )
    loaded = cli("bank", "load", str(bank), ok=False)
    assert loaded.returncode == 1 and "Nothing was loaded" in loaded.stderr


def test_bank_load_is_idempotent(cli: Cli, tmp_path: Path) -> None:
    source = bank_dir(tmp_path)
    expected = load_bank(source)
    first = cli("bank", "load", str(source)).stdout
    numbers = re.search(r"Loaded (\d+) questions \((\d+) new or changed, (\d+) unchanged\)", first)
    assert numbers, first
    total, changed, unchanged = map(int, numbers.groups())
    assert total >= len(expected.questions) and (changed, unchanged) == (total, 0)
    assert f"and {len(expected.quizzes)} quizzes" in first

    second = cli("bank", "load", str(source)).stdout
    assert f"(0 new or changed, {total} unchanged)" in second, second
    with sqlite3.connect(cli.database) as conn:
        assert conn.execute("SELECT count(*) FROM questions").fetchone() == (total,)
        assert conn.execute("SELECT max(version) FROM questions").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM quizzes").fetchone() == (len(expected.quizzes),)
        items = conn.execute("SELECT count(*) FROM quiz_questions").fetchone()[0]
    assert items == sum(len(q["questions"]) for q in expected.quizzes)


def test_outside_the_project_without_a_database_it_says_so(tmp_path: Path) -> None:
    """No HOLDOUT_* variables, an empty folder: a clear message, nothing created, no traceback."""
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDOUT_")}
    for args in (["token", "list"], ["token", "create", "--role", "student", "--name", "x"]):
        done = subprocess.run(
            [HOLDOUT, *args], cwd=empty, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"No database at {empty.resolve() / 'instance' / 'holdout.db'}" in done.stderr
        assert "holdout db upgrade" in done.stderr
        assert "Traceback" not in done.stderr
        assert list(empty.iterdir()) == []  # no ./instance/holdout.db, no secret key
    # Commands that need no database still work there.
    helped = subprocess.run(
        [HOLDOUT, "--help"], cwd=empty, env=env, capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0 and "token" in helped.stdout
    assert list(empty.iterdir()) == []


def test_a_database_without_tables_is_named(cli: Cli, tmp_path: Path) -> None:
    blank = tmp_path / "blank.db"
    sqlite3.connect(blank).close()
    cli.env["HOLDOUT_DATABASE_URL"] = f"sqlite:///{blank}"
    done = cli("token", "list", ok=False)
    assert done.returncode == 1
    assert "has no holdout tables" in done.stderr and "Traceback" not in done.stderr


def test_version_is_holdouts() -> None:
    from importlib.metadata import version

    done = subprocess.run([HOLDOUT, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.strip() == f"holdout, version {version('holdout')}"


def test_token_list_and_revoke(cli: Cli, tmp_path: Path) -> None:
    created = cli("token", "create", "--role", "student", "--name", "ada").stdout
    token = created.strip().splitlines()[-1]
    other = cli("token", "create", "--role", "instructor", "--name", "bob").stdout
    other_token = other.strip().splitlines()[-1]
    listed = cli("token", "list").stdout.splitlines()
    assert listed[0].split("\t")[:4] == ["id", "prefix", "user", "role"]
    rows = [line.split("\t") for line in listed[1:]]
    assert [(r[1], r[2], r[3]) for r in rows] == [
        (token[:10] + "…", "ada", "student"),
        (other_token[:10] + "…", "bob", "instructor"),
    ]
    assert token not in "\n".join(listed)  # never the secret itself

    # By prefix, and by the whole token; then neither works, and only revoked ones remain.
    revoked = cli("token", "revoke", token[:10], other_token).stdout
    assert revoked.count(" revoked.") == 2, revoked
    app = create_app(make_settings(f"sqlite:///{cli.database}", tmp_path / "app"))
    client = app.test_client()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(other_token)).status_code == 401
    everything = cli("token", "list", "--all").stdout.splitlines()[1:]
    assert len(everything) == 2 and all(line.split("\t")[-1] != "-" for line in everything)
    again = cli("token", "revoke", rows[0][0], "hot_nothing", ok=False)  # by id, then unknown
    assert "already revoked" in again.stdout
    assert again.returncode == 1 and "no token 'hot_nothing'" in again.stderr


def test_lti_urls_without_a_public_url_say_they_are_guesses(cli: Cli) -> None:
    guessed = cli("lti", "urls")
    assert "guesses" in guessed.stderr and "HOLDOUT_PUBLIC_URL" in guessed.stderr
    cli.env["HOLDOUT_PUBLIC_URL"] = "https://holdout.example.edu"
    real = cli("lti", "urls")
    assert "https://holdout.example.edu/lti/launch" in real.stdout
    assert "guesses" not in real.stderr


def test_bank_warm_runs_each_exercise_ahead_once(cli: Cli, tmp_path: Path) -> None:
    """`bank warm` (run by `make serve`) fills the result cache the service's graders read."""
    bank = tmp_path / "one-exercise"
    shutil.copytree(BUNDLED_DIR / "exercises" / "dropout", bank / "exercises" / "dropout")
    cli("db", "upgrade")
    cli("bank", "load", str(bank))
    warmed = cli("bank", "warm").stdout
    assert re.fullmatch(r"dropout: ready \(\d+\.\d s\)\n", warmed), warmed
    cache = cli.workdir / "instance" / "grader-cache"
    kinds = sorted(p.name.split("-")[0] for p in cache.glob("*.result"))
    assert kinds == ["profiles", "reference"]
    stored = {p: p.stat().st_mtime_ns for p in cache.glob("*.result")}

    assert cli("bank", "warm").stdout.startswith("dropout: ready")
    assert {p: p.stat().st_mtime_ns for p in cache.glob("*.result")} == stored  # read, not rerun
