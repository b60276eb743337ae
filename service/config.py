"""Configuration, read only from HOLDOUT_* environment variables, with safe defaults."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "sqlite:///instance/holdout.db"


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


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


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str | None
    instance_dir: Path
    secret_key: str
    max_body_bytes: int
    log_level: str
    # Flask-Limiter notation, per token (or per address without one).
    rate_limit: str = "600 per minute"
    submit_rate_limit: str = "60 per minute"
    # Where the counters live: shared Redis when configured, else a file all workers share.
    rate_limit_storage: str = "memory://"
    # Minutes a sign-in link stays valid (at most MAX_SIGN_IN_LINK_MINUTES).
    sign_in_link_minutes: int = 10
    # Outbound URLs (webhooks, LTI platforms): hosts allowed even on private or loopback
    # addresses (tests, development), and whether plain http is allowed.
    outbound_allow_hosts: tuple[str, ...] = ()
    outbound_allow_http: bool = False
    # Where people and platforms reach holdout; absolute URLs are built only from it or from a
    # request whose Host is in trusted_hosts.
    public_url: str | None = None
    trusted_hosts: tuple[str, ...] = ("localhost", "127.0.0.1")

    @classmethod
    def from_env(cls) -> Settings:
        cwd = Path.cwd()
        instance_dir = Path(os.environ.get("HOLDOUT_INSTANCE_DIR", cwd / "instance")).resolve()
        url = os.environ.get("HOLDOUT_DATABASE_URL") or DEFAULT_DATABASE_URL
        broker_url = os.environ.get("HOLDOUT_BROKER_URL") or None
        return cls(
            database_url=normalize_database_url(url, cwd),
            broker_url=broker_url,
            instance_dir=instance_dir,
            secret_key=os.environ.get("HOLDOUT_SECRET_KEY") or _stored_secret(instance_dir),
            max_body_bytes=_int_env("HOLDOUT_MAX_BODY_BYTES", 1024 * 1024),
            log_level=os.environ.get("HOLDOUT_LOG_LEVEL", "INFO").upper(),
            rate_limit=os.environ.get("HOLDOUT_RATE_LIMIT", cls.rate_limit),
            submit_rate_limit=os.environ.get("HOLDOUT_SUBMIT_RATE_LIMIT", cls.submit_rate_limit),
            rate_limit_storage=_rate_limit_storage(broker_url, instance_dir),
            sign_in_link_minutes=_sign_in_minutes(),
            outbound_allow_hosts=_list_env("HOLDOUT_OUTBOUND_ALLOW_HOSTS"),
            outbound_allow_http=os.environ.get("HOLDOUT_OUTBOUND_ALLOW_HTTP", "") in ("1", "true"),
            public_url=(os.environ.get("HOLDOUT_PUBLIC_URL", "").strip().rstrip("/") or None),
            trusted_hosts=_list_env("HOLDOUT_TRUSTED_HOSTS") or cls.trusted_hosts,
        )


MAX_SIGN_IN_LINK_MINUTES = 60


def _sign_in_minutes() -> int:
    minutes = _int_env("HOLDOUT_SIGN_IN_LINK_MINUTES", 10)
    if not 1 <= minutes <= MAX_SIGN_IN_LINK_MINUTES:
        raise SystemExit(
            f"HOLDOUT_SIGN_IN_LINK_MINUTES must be 1 to {MAX_SIGN_IN_LINK_MINUTES}, got {minutes}"
        )
    return minutes


def _list_env(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name, "")
    return tuple(item.strip().lower() for item in raw.split(",") if item.strip())


def _rate_limit_storage(broker_url: str | None, instance_dir: Path) -> str:
    """Counters every worker shares: HOLDOUT_RATE_LIMIT_STORAGE_URL, else the Redis broker,
    else a file in the instance folder (all gunicorn workers on the machine)."""
    explicit = os.environ.get("HOLDOUT_RATE_LIMIT_STORAGE_URL")
    if explicit:
        return explicit
    if broker_url and broker_url.startswith(("redis://", "rediss://")):
        return broker_url
    return "memory://"


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
