"""Configuration: every HOLDOUT_* environment variable, declared once, with a safe default.

To add a setting, add one field to `Settings` below:

    my_thing_seconds: float = setting("HOLDOUT_MY_THING_SECONDS", Number(positive=True), 5.0,
                                      "what it means, for the README's table")

then read it as `config.of_app().my_thing_seconds` (or `current().my_thing_seconds`
where there is no app, e.g. a module constant), and regenerate the README's table with
`holdout config docs --update README.md` (a test keeps them equal). Everything is read and checked
once at start-up: a bad value stops the process with a message naming it (ConfigError).
Settings the grader reads itself are declared in `grader/config.py` (grader imports nothing of
ours); they are checked here too and appear in the same table.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

from grader.config import (
    GRADER_SETTINGS,
    Choice,
    ConfigError,
    Directory,
    Flag,
    Integer,
    Number,
    PathList,
    Setting,
    Text,
)

__all__ = [
    "ConfigError",
    "Flag",
    "Integer",
    "Number",
    "PathList",
    "Setting",
    "Settings",
    "Text",
    "current",
    "declared",
    "docs_table",
    "setting",
]

T = TypeVar("T")
MAX_SIGN_IN_LINK_MINUTES = 60
DEFAULT_DATABASE_URL = "sqlite:///instance/holdout.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
BROKER_SCHEMES = ("redis://", "rediss://", "unix://", "amqp://", "amqps://")


def setting(
    env: str, parse: Callable[[str], T], default: T, meaning: str, shown_default: str = ""
) -> T:
    """A dataclass field of Settings, declared as one environment variable."""
    declared = Setting(env, parse, default, meaning, shown_default)
    return dataclasses.field(default=default, metadata={"setting": declared})


@dataclasses.dataclass(frozen=True)
class IntegerRange:
    minimum: int
    maximum: int

    def __call__(self, raw: str) -> int:
        value = Integer(self.minimum)(raw)
        if value > self.maximum:
            raise ValueError(f"must be at most {self.maximum}")
        return value

    def __str__(self) -> str:
        return f"integer {self.minimum} to {self.maximum}"


@dataclasses.dataclass(frozen=True)
class RateLimit:
    def __call__(self, raw: str) -> str:
        from limits import parse_many

        try:
            parse_many(raw)
        except ValueError:
            raise ValueError("not a rate limit such as '600 per minute'") from None
        return raw

    def __str__(self) -> str:
        return "rate limit"


@dataclasses.dataclass(frozen=True)
class DatabaseUrl:
    def __call__(self, raw: str) -> str:
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(raw)
        except ArgumentError:
            raise ValueError("not a database URL such as postgresql://host/db") from None
        return raw

    def __str__(self) -> str:
        return "URL"


@dataclasses.dataclass(frozen=True)
class PublicUrl:
    def __call__(self, raw: str) -> str:
        if not raw.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http://)")
        return raw.rstrip("/")

    def __str__(self) -> str:
        return "URL"


@dataclasses.dataclass(frozen=True)
class HostList:
    def __call__(self, raw: str) -> tuple[str, ...]:
        return tuple(item.strip().lower() for item in raw.split(",") if item.strip())

    def __str__(self) -> str:
        return "comma-separated host names"


@dataclasses.dataclass(frozen=True)
class Settings:
    # The database and the broker
    database_url: str = setting(
        "HOLDOUT_DATABASE_URL",
        DatabaseUrl(),
        DEFAULT_DATABASE_URL,
        "any SQLAlchemy URL; a plain `postgresql://` URL uses psycopg 3. Relative SQLite paths "
        "are relative to the working directory",
    )
    broker_url: str | None = setting(
        "HOLDOUT_BROKER_URL",
        Text(BROKER_SCHEMES),
        None,
        "unset: grading runs inside the API processes. `redis://…` or `amqp://…`: grading jobs "
        "go to `holdout worker` processes",
    )
    instance_dir: Path = setting(
        "HOLDOUT_INSTANCE_DIR",
        Directory(),
        Path("instance"),
        "where the secret key and the default database live",
        "`./instance`",
    )
    secret_key: str = setting(
        "HOLDOUT_SECRET_KEY",
        Text(),
        "",
        "signs sessions, sign-in links and tool tokens; every API node of one deployment needs "
        "the same value",
        "generated once, kept in `instance/secret_key` (mode 600)",
    )
    # The HTTP server (gunicorn, see service/gunicorn_conf.py)
    bind: str = setting("HOLDOUT_BIND", Text(), "127.0.0.1:8000", "where gunicorn listens")
    workers: int = setting("HOLDOUT_WORKERS", Integer(1), 2, "gunicorn worker processes")
    threads: int = setting("HOLDOUT_THREADS", Integer(1), 4, "threads per gunicorn worker")
    timeout: int = setting("HOLDOUT_TIMEOUT", Integer(1), 60, "gunicorn's request timeout, seconds")
    graceful_timeout: int = setting(
        "HOLDOUT_GRACEFUL_TIMEOUT",
        Integer(0),
        30,
        "seconds for requests and jobs in flight to finish on SIGTERM",
    )
    keepalive: int = setting(
        "HOLDOUT_KEEPALIVE", Integer(0), 5, "seconds an idle keep-alive connection stays open"
    )
    max_body_bytes: int = setting(
        "HOLDOUT_MAX_BODY_BYTES", Integer(1), 1024 * 1024, "larger request bodies get 413"
    )
    log_level: str = setting(
        "HOLDOUT_LOG_LEVEL",
        Choice(LOG_LEVELS),
        "INFO",
        "log level; logs are JSON lines on stderr, each with the request id",
    )
    metrics_token: str = setting(
        "HOLDOUT_METRICS_TOKEN",
        Text(),
        "",
        "a bearer token for `/metrics` and the details of `/readyz` (Prometheus: "
        "`authorization: {credentials: …}`); without it, only direct connections from this "
        "machine (loopback, not through a proxy) see them",
        "unset",
    )
    cache_seconds: float = setting(
        "HOLDOUT_CACHE_SECONDS",
        Number(0),
        5.0,
        "how long a process may answer a repeated `GET /api/v1/questions` from its cache; a "
        "question edited or a token revoked in another process takes effect within this time "
        "(in the same process at once); `0` turns the cache off",
    )
    # Grading
    grader_slots: int = setting(
        "HOLDOUT_GRADER_SLOTS",
        Integer(1),
        2,
        "grading jobs at once per grading process (each under its own sandbox uid)",
    )
    lease_seconds: float = setting(
        "HOLDOUT_LEASE_SECONDS",
        Number(positive=True),
        60.0,
        "a claimed job's lease, renewed while it runs; an expired lease (dead process) is "
        "taken over",
    )
    max_claims: int = setting(
        "HOLDOUT_MAX_CLAIMS",
        Integer(1),
        3,
        "a submission whose grading process died this many times is marked failed, with a reason",
    )
    poll_seconds: float = setting(
        "HOLDOUT_POLL_SECONDS",
        Number(positive=True),
        1.0,
        "how often idle embedded graders look for work left by other processes",
    )
    redispatch_seconds: float = setting(
        "HOLDOUT_REDISPATCH_SECONDS",
        Number(positive=True),
        30.0,
        "with a broker: a queued job not picked up after this long is sent again by the "
        "workers' sweeper once a later one is being graded or none is (after 10 times this "
        "long in any case)",
    )
    code_cooldown_seconds: int = setting(
        "HOLDOUT_CODE_COOLDOWN_SECONDS",
        Integer(0),
        0,
        "wait between two code submissions to one question outside a quiz (quizzes set their own)",
    )
    # Rate limits ("600 per minute", the `limits` notation), per user, else per address
    rate_limit: str = setting(
        "HOLDOUT_RATE_LIMIT", RateLimit(), "600 per minute", "per token (or address), all requests"
    )
    submit_rate_limit: str = setting(
        "HOLDOUT_SUBMIT_RATE_LIMIT",
        RateLimit(),
        "60 per minute",
        "per token (or address), for answers",
    )
    rate_limit_storage: str = setting(
        "HOLDOUT_RATE_LIMIT_STORAGE_URL",
        Text(),
        "memory://",
        "where rate-limit counters live (shared Redis when scaled out); `memory://` means a "
        "SQLite file in the instance folder that all workers of the machine share",
        "the broker URL if it is Redis, else `memory://`",
    )
    # Webhooks
    webhook_max_tries: int = setting(
        "HOLDOUT_WEBHOOK_MAX_TRIES", Integer(1), 6, "webhook delivery tries"
    )
    webhook_backoff: float = setting(
        "HOLDOUT_WEBHOOK_BACKOFF",
        Number(0),
        2.0,
        "seconds before a webhook's first retry (doubling after each)",
    )
    webhook_timeout: float = setting(
        "HOLDOUT_WEBHOOK_TIMEOUT", Number(positive=True), 5.0, "webhook request timeout, seconds"
    )
    delivery_threads: int = setting(
        "HOLDOUT_DELIVERY_THREADS",
        Integer(1),
        4,
        "threads sending webhook events and LMS scores (the outbox) in each process that grades",
    )
    # Waiting clients (?wait= long polls, the pages' live status)
    max_waits_per_user: int = setting(
        "HOLDOUT_MAX_WAITS_PER_USER",
        Integer(1),
        4,
        "long polls one user may have open at once in each API process; past it the status is "
        "answered at once, with Retry-After",
    )
    max_waits: int = setting(
        "HOLDOUT_MAX_WAITS",
        Integer(1),
        1000,
        "long polls open at once in each API process; past it the status is answered at once, "
        "with Retry-After",
    )
    # LTI and the pages
    public_url: str | None = setting(
        "HOLDOUT_PUBLIC_URL",
        PublicUrl(),
        None,
        "holdout's external URL; tool URLs are built from it, and https turns on cross-site "
        "cookies",
        "unset (from each request)",
    )
    session_hours: float = setting(
        "HOLDOUT_SESSION_HOURS",
        Number(positive=True),
        8.0,
        "how long a browser stays signed in after a launch or sign-in link",
    )
    sign_in_link_minutes: int = setting(
        "HOLDOUT_SIGN_IN_LINK_MINUTES",
        IntegerRange(1, MAX_SIGN_IN_LINK_MINUTES),
        10,
        "how long a (single-use) sign-in link stays valid; at most 60",
    )
    trusted_hosts: tuple[str, ...] = setting(
        "HOLDOUT_TRUSTED_HOSTS",
        HostList(),
        ("localhost", "127.0.0.1"),
        "without HOLDOUT_PUBLIC_URL, the request Host names absolute URLs may be built on",
        "`localhost,127.0.0.1`",
    )
    # Outbound requests (webhooks, LTI platform endpoints): see service/outbound.py
    outbound_allow_hosts: tuple[str, ...] = setting(
        "HOLDOUT_OUTBOUND_ALLOW_HOSTS",
        HostList(),
        (),
        "hosts holdout may call even on loopback or private addresses, and over http "
        "(development, tests); others must be public https hosts",
        "none",
    )
    outbound_allow_http: bool = setting(
        "HOLDOUT_OUTBOUND_ALLOW_HTTP",
        Flag(),
        False,
        "allow plain http to public hosts (development only)",
    )
    lti_jwks_ttl: float = setting(
        "HOLDOUT_LTI_JWKS_TTL", Number(0), 300.0, "seconds an LMS's JWKS is cached"
    )
    lti_login_ttl: float = setting(
        "HOLDOUT_LTI_LOGIN_TTL",
        Number(positive=True),
        600.0,
        "seconds between login initiation and launch",
    )
    lti_http_timeout: float = setting(
        "HOLDOUT_LTI_HTTP_TIMEOUT",
        Number(positive=True),
        10.0,
        "timeout of holdout's requests to an LMS (JWKS, access tokens, scores), seconds",
    )
    lti_max_tries: int = setting("HOLDOUT_LTI_MAX_TRIES", Integer(1), 8, "score delivery tries")
    lti_backoff: float = setting(
        "HOLDOUT_LTI_BACKOFF",
        Number(0),
        5.0,
        "seconds before a score delivery's first retry (doubling after each)",
    )
    lti_key_publish_ahead_hours: float = setting(
        "HOLDOUT_LTI_KEY_PUBLISH_AHEAD_HOURS",
        Number(0),
        24.0,
        "a new signing key is published this long before it signs",
    )
    lti_key_keep_hours: float = setting(
        "HOLDOUT_LTI_KEY_KEEP_HOURS",
        Number(0),
        72.0,
        "a replaced key stays published this long",
    )
    lti_key_max_age_hours: float = setting(
        "HOLDOUT_LTI_KEY_MAX_AGE_HOURS",
        Number(positive=True),
        24.0 * 90,
        "the background loop rotates a signing key older than this",
    )

    @classmethod
    def parse(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every declared setting from the environment, or ConfigError naming all bad ones.
        No side effects: an unset secret key stays empty (from_env fills it in)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems = []
        for item in dataclasses.fields(cls):
            value, problem = _declaration(item).try_read(environ)
            values[item.name] = value
            if problem:
                problems.append(problem)
        problems += [p for s in GRADER_SETTINGS if (p := s.try_read(environ)[1])]
        if problems:
            raise ConfigError(problems)
        cwd = Path.cwd()
        values["instance_dir"] = (cwd / values["instance_dir"]).resolve()
        values["database_url"] = normalize_database_url(values["database_url"], cwd)
        # Counters shared through the broker when it is Redis, unless told otherwise.
        broker = values["broker_url"] or ""
        explicit = environ.get("HOLDOUT_RATE_LIMIT_STORAGE_URL", "").strip()
        if not explicit and broker.startswith(("redis://", "rediss://")):
            values["rate_limit_storage"] = broker
        return cls(**values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """As `parse`, with the secret key generated (once, in the instance folder) if unset."""
        settings = cls.parse(environ)
        if settings.secret_key:
            return settings
        return dataclasses.replace(settings, secret_key=_stored_secret(settings.instance_dir))


def _declaration(item: dataclasses.Field[Any]) -> Setting[Any]:
    declared = item.metadata.get("setting")
    if declared is None:
        raise TypeError(f"Settings.{item.name} is not declared with setting(...)")
    return declared


@functools.cache
def current() -> Settings:
    """The settings of this process's environment, read once: for module-level constants and
    code that runs without an app (gunicorn's config, the worker). Raises ConfigError."""
    return Settings.parse()


def of_app() -> Settings:
    """The settings of the current Flask app (tests may replace them there)."""
    from flask import current_app

    settings: Settings = current_app.extensions["holdout_settings"]
    return settings


def declared() -> list[Setting[Any]]:
    """Every setting, the service's in declaration order, then the grader's."""
    return [_declaration(item) for item in dataclasses.fields(Settings)] + list(GRADER_SETTINGS)


def docs_table() -> str:
    """The README's configuration table (Markdown), generated from the declarations."""
    rows = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for item in declared():
        rows.append(f"| `{item.env}` | {item.parse} | {item.default_text()} | {item.meaning} |")
    return "\n".join(rows) + "\n"


def normalize_database_url(url: str, base: Path) -> str:
    """Make a relative SQLite path absolute (against base); plain postgresql:// means psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.is_absolute():
            parsed = parsed.set(database=str((base / path).resolve()))
    elif parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _stored_secret(instance_dir: Path) -> str:
    """A secret generated once and kept (mode 600) in the instance folder, shared by all workers."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def read(env: str) -> Any:
    """One declared setting, read from the environment now (for the few read at call time)."""
    for item in declared():
        if item.env == env:
            return item.read()
    raise KeyError(f"{env} is not declared in service/config.py")
