"""Rate limits that hold across processes: counters in Redis when configured, else in a SQLite
file in the instance folder that every gunicorn worker on the machine shares.

Requests are counted per user (a token, a browser session and the tokens of sign-in links of
one user share one budget); a request with an unknown or revoked token is counted against its
client address, so guessing tokens is limited too.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, g, request
from flask_limiter import Limiter
from limits.storage import Storage

from service import caching, config
from service.errors import Problem

SCHEME = "holdout+sqlite"


class SqliteFileStorage(Storage):
    """Fixed-window counters in one SQLite file (WAL; an increment is one short transaction)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = str(uri or "").split("://", 1)[1]
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._db() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS counters "
                "(key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires REAL NOT NULL)"
            )

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO counters (key, value, expires) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET "
                "value = CASE WHEN expires <= ? THEN excluded.value "
                "ELSE value + excluded.value END, "
                "expires = CASE WHEN expires <= ? THEN excluded.expires ELSE expires END",
                (key, amount, now + expiry, now, now),
            )
            (value,) = conn.execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()
            if int(now) % 64 == 0:  # now and then, forget windows long over
                conn.execute("DELETE FROM counters WHERE expires <= ?", (now - 3600,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(value)

    def get(self, key: str) -> int:
        row = (
            self._db()
            .execute("SELECT value FROM counters WHERE key = ? AND expires > ?", (key, time.time()))
            .fetchone()
        )
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._db().execute("SELECT expires FROM counters WHERE key = ?", (key,)).fetchone()
        return float(row[0]) if row else time.time()

    def check(self) -> bool:
        self._db().execute("SELECT 1")
        return True

    def reset(self) -> int | None:
        return self._db().execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        self._db().execute("DELETE FROM counters WHERE key = ?", (key,))


def storage_uri(settings: config.Settings) -> str:
    """The configured storage; the default `memory://` becomes the shared file."""
    if settings.rate_limit_storage == "memory://":
        return f"{SCHEME}://{settings.instance_dir / 'rate-limits.sqlite'}"
    return settings.rate_limit_storage


def rate_limit_key() -> str:
    """The user the request acts for, else (no credentials, or bad ones) its client address."""
    header = request.headers.get("Authorization", "")
    if header:
        owner = caching.token_owner(header, _principal_key)
    elif request.cookies.get("holdout_session"):
        owner = _principal_key()
    else:
        owner = None
    return owner or "addr:" + (request.remote_addr or "unknown")


def _principal_key() -> str | None:
    from service.auth import current_principal

    try:
        user = current_principal().user
    except Problem:
        g.pop("principal", None)  # the view answers 401 itself
        return None
    # With its creation time: a user id reused (after a restore) starts afresh.
    return f"user:{user.id}:{user.created_at.timestamp():.3f}"


def init_rate_limits(app: Flask, settings: config.Settings) -> Limiter:
    return Limiter(
        key_func=rate_limit_key,
        app=app,
        # One budget per user for all requests (default_limits would count each route apart).
        application_limits=[settings.rate_limit],
        storage_uri=storage_uri(settings),
        headers_enabled=True,
        # If shared storage is down, count in memory rather than refuse every request.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
