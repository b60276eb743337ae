"""Configuration declared once: the README's table comes from the declarations, every HOLDOUT_*
name the code uses is declared, and a bad value stops a process with a message naming it."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import readme_with_table
from service.config import ConfigError, Settings, declared

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PACKAGES = ("service", "grader", "question_bank")


def _clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDOUT_")}
    return env | settings


def test_readme_table_is_generated_from_the_declarations() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme_with_table(readme) == readme, (
        "README.md's configuration table is stale: run `holdout config docs --update README.md`"
    )
    for item in declared():
        assert f"| `{item.env}` |" in readme


def test_every_holdout_variable_the_code_names_is_declared() -> None:
    names = {item.env for item in declared()}
    assert len(names) == len(declared()), "a setting is declared twice"
    used: dict[str, str] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "content" in path.parts:
                continue  # exercise files, not code of ours
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                value = node.value if isinstance(node, ast.Constant) else None
                if isinstance(value, str) and re.fullmatch(r"HOLDOUT_[A-Z0-9_]+", value):
                    used.setdefault(value, str(path.relative_to(ROOT)))
    assert used, "the scan found nothing: it is broken"
    not_variables = {"HOLDOUT_SETTINGS"}  # the Flask config key holding the Settings
    undeclared = {n: where for n, where in used.items() if n not in names | not_variables}
    assert not undeclared, f"declare these in service/config.py: {undeclared}"


def test_no_module_reads_holdout_variables_itself() -> None:
    """Only the declarations read the environment (so every value is checked)."""
    reads = re.compile(r"""(os\.environ(\.get)?|os\.getenv)\(?\[?\s*["']HOLDOUT_""")
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if reads.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders


def test_defaults_and_values_are_parsed_and_checked(tmp_path: Path) -> None:
    defaults = Settings.parse({})
    for item in dataclasses.fields(Settings):
        if item.name not in ("instance_dir", "database_url"):  # made absolute
            assert getattr(defaults, item.name) == item.default, item.name
    assert defaults.rate_limit_storage == "memory://"
    assert defaults.instance_dir == (Path.cwd() / "instance").resolve()

    settings = Settings.parse(
        {
            "HOLDOUT_LEASE_SECONDS": "2.5",
            "HOLDOUT_WORKERS": " 3 ",
            "HOLDOUT_LOG_LEVEL": "debug",
            "HOLDOUT_BROKER_URL": "redis://127.0.0.1:6379/0",
            "HOLDOUT_DATABASE_URL": "postgresql://db.example/holdout",
            "HOLDOUT_PUBLIC_URL": "https://holdout.example.edu/",
            "HOLDOUT_SANDBOX_HIDE": "/srv/a:/srv/b",
            "HOLDOUT_SECRET_KEY": "",  # empty is unset
        }
    )
    assert (settings.lease_seconds, settings.workers, settings.log_level) == (2.5, 3, "DEBUG")
    assert settings.rate_limit_storage == "redis://127.0.0.1:6379/0"  # shared through the broker
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.public_url == "https://holdout.example.edu"
    assert settings.secret_key == ""

    with pytest.raises(ConfigError) as bad:
        Settings.parse(
            {
                "HOLDOUT_LEASE_SECONDS": "soon",
                "HOLDOUT_WORKERS": "0",
                "HOLDOUT_RATE_LIMIT": "lots",
                "HOLDOUT_BROKER_URL": "kafka://x",
                "HOLDOUT_LOG_LEVEL": "loud",
                "HOLDOUT_MAX_BODY_BYTES": "1e6",
                "HOLDOUT_LTI_JWKS_TTL": "inf",
                "HOLDOUT_SANDBOX_ALLOW_UNSAFE": "maybe",
            }
        )
    message = str(bad.value.code)
    for name in (
        "HOLDOUT_LEASE_SECONDS='soon': not a number",
        "HOLDOUT_WORKERS='0': must be at least 1",
        "HOLDOUT_RATE_LIMIT='lots'",
        "HOLDOUT_BROKER_URL='kafka://x': must start with redis://",
        "HOLDOUT_LOG_LEVEL='loud': must be one of DEBUG",
        "HOLDOUT_MAX_BODY_BYTES='1e6': not a whole number",
        "HOLDOUT_LTI_JWKS_TTL='inf': must be a finite number",
        "HOLDOUT_SANDBOX_ALLOW_UNSAFE='maybe'",
    ):
        assert name in message, message
    assert len(bad.value.problems) == 8


def test_a_bad_value_stops_the_cli_with_a_clear_message(tmp_path: Path) -> None:
    env = _clean_env(
        HOLDOUT_DATABASE_URL=f"sqlite:///{tmp_path / 'holdout.db'}",
        HOLDOUT_INSTANCE_DIR=str(tmp_path / "instance"),
        HOLDOUT_LEASE_SECONDS="soon",
        HOLDOUT_WORKERS="0",
    )
    done = subprocess.run(
        [str(BIN / "holdout"), "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert "HOLDOUT_LEASE_SECONDS='soon': not a number" in done.stderr
    assert "HOLDOUT_WORKERS='0': must be at least 1" in done.stderr
    assert not (tmp_path / "holdout.db").exists()

    checked = subprocess.run(
        [str(BIN / "holdout"), "config", "check"],
        cwd=tmp_path,
        env={**env, "HOLDOUT_LEASE_SECONDS": "5", "HOLDOUT_WORKERS": "2"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert "valid" in checked.stdout


def test_a_bad_value_stops_gunicorn_with_a_clear_message(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "gunicorn"), "-c", "python:service.gunicorn_conf", "service.wsgi:app"],
        cwd=tmp_path,
        env=_clean_env(HOLDOUT_THREADS="many", HOLDOUT_INSTANCE_DIR=str(tmp_path / "i")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "HOLDOUT_THREADS='many': not a whole number" in done.stderr
    assert "Traceback" not in done.stderr, done.stderr


GUNICORN_CHECK = """
import json, os, shutil
from gunicorn.config import KNOWN_SETTINGS
import service.gunicorn_conf as conf
known = {s.name for s in KNOWN_SETTINGS}
modules = ("os", "shutil", "tempfile", "current", "annotations")
names = [n for n in vars(conf) if not n.startswith("_") and n.islower()
         and not callable(getattr(conf, n)) and n not in modules]
print(json.dumps({"unknown": [n for n in names if n not in known],
                  "values": {n: getattr(conf, n) for n in ("bind", "workers", "threads",
                                                           "control_socket_disable")},
                  "metrics_dir": os.environ["PROMETHEUS_MULTIPROC_DIR"]}))
shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"])
"""


def test_gunicorn_settings_are_the_declared_ones_and_open_no_control_socket() -> None:
    import json

    done = subprocess.run(
        [sys.executable, "-c", GUNICORN_CHECK],
        env=_clean_env(HOLDOUT_WORKERS="3", HOLDOUT_BIND="127.0.0.1:9999"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["unknown"] == []  # every name in the config file is a gunicorn setting
    assert found["values"] == {
        "bind": "127.0.0.1:9999",
        "workers": 3,
        "threads": 4,
        # gunicorn 27 would otherwise open a control socket in the home directory (root's).
        "control_socket_disable": True,
    }
    assert "holdout-metrics-" in found["metrics_dir"]  # a new folder for each run
