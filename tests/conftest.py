"""Shared fixtures: a real database per backend (SQLite and PostgreSQL), the app, tokens.

Every test that uses `app` or `client` runs twice, once on each backend. Under CI=true a missing
PostgreSQL is an error, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from service.app import create_app
from service.config import Settings, normalize_database_url
from service.models import db
from tests.helpers import bearer

PG_ADMIN_URL = os.environ.get(
    "HOLDOUT_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ["sqlite", "postgresql"]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def require_service(available: bool, what: str) -> None:
    """Skip when a service is missing on a developer's machine; fail under CI."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI but does not answer")
    pytest.skip(f"{what} is not running")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (and xdist worker), dropped at the end."""
    require_service(pg_available(), "PostgreSQL on 127.0.0.1:5432")
    name = f"holdout_test_{_worker()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("holdout")


def make_settings(database_url: str, instance_dir: Path) -> Settings:
    return Settings(
        database_url=normalize_database_url(database_url, instance_dir),
        broker_url=None,
        instance_dir=instance_dir,
        secret_key="test-secret",
        max_body_bytes=1024 * 1024,
        log_level="WARNING",
        # The fake LMS and webhook receivers of the tests listen on 127.0.0.1.
        outbound_allow_hosts=("127.0.0.1", "localhost"),
    )


@pytest.fixture(scope="session")
def migrated_apps(session_dir: Path) -> dict[str, Flask]:
    """One app per backend, its database migrated once per session (lazily, on first use)."""
    return {}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, session_dir: Path) -> str:
    if backend == "postgresql":
        return str(request.getfixturevalue("pg_database"))
    return f"sqlite:///{session_dir / 'holdout.db'}"


@pytest.fixture
def app(
    backend: str, database_url: str, migrated_apps: dict[str, Flask], session_dir: Path
) -> Iterator[Flask]:
    if backend not in migrated_apps:
        application = create_app(make_settings(database_url, session_dir / backend))
        with application.app_context():
            upgrade()
        migrated_apps[backend] = application
    application = migrated_apps[backend]
    # No app context is held during the test: each request must get its own, as in production
    # (a shared one would share flask.g, and with it the authenticated user, across requests).
    yield application
    with application.app_context():
        _empty_all_tables()
    # Question versions are cached by (id, version) as immutable; emptying the tables reuses
    # the ids, so the next test must not grade against this one's versions.
    from service import grading

    with grading._versions_lock:
        grading._versions.clear()


def _empty_all_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def token_for(app: Flask) -> Callable[..., str]:
    """Create a user with a token; returns the plain token."""
    from service.auth import get_or_create_user, issue_token, make_member
    from service.models import Role

    def make(role: str, name: str | None = None, course: str | None = None) -> str:
        with app.app_context():
            scope = None
            if course is not None:
                from service.quizzes import get_or_create_course

                scope = get_or_create_course(course)
            user = get_or_create_user(name or f"{role}-{uuid.uuid4().hex[:6]}", Role(role))
            if scope is not None:
                make_member(user, scope)  # as `holdout token create --course` does
            _, plain = issue_token(user, "test", scope)
            db.session.commit()
            return plain

    return make


@pytest.fixture
def admin(token_for: Callable[..., str]) -> dict[str, str]:
    return bearer(token_for("admin", "root"))


@pytest.fixture
def instructor(token_for: Callable[..., str]) -> dict[str, str]:
    return bearer(token_for("instructor", "prof"))


@pytest.fixture
def student(token_for: Callable[..., str]) -> dict[str, str]:
    return bearer(token_for("student", "alice"))


@pytest.fixture
def other_student(token_for: Callable[..., str]) -> dict[str, str]:
    return bearer(token_for("student", "bob"))


@pytest.fixture
def lms(token_for: Callable[..., str]) -> dict[str, str]:
    return bearer(token_for("lms", "canvas"))
