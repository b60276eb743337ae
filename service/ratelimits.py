"""Rate limits that hold across processes: counters in Redis when configured, else in a SQLite
file in the instance folder that every gunicorn worker on the machine shares.

Requests are counted per user (a token, a browser session and the tokens of sign-in links of
one user share one budget); a request with an unknown or revoked token is counted against its
client address, so guessing tokens is limited too.

The counting is the `limits` library's (fixed windows, its storage backends); this module only
says what is counted, once per request. (Flask-Limiter, which did this before, cost about a
quarter of a cached request's time in its own bookkeeping, even on exempt routes.)
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import Flask, Response, g, request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from werkzeug.exceptions import TooManyRequests

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
        """One statement, its own transaction: SQLite's write lock is held only while SQLite runs
        it. (An explicit BEGIN ... COMMIT held it across Python lines too, which wait for the GIL
        while another thread computes, and every other request's increment then slept in SQLite's
        busy handler: 1, 2, 5, 10... ms at a time.)"""
        now = time.time()
        conn = self._db()
        # fetchall: the statement runs to its end, which commits it (fetchone would leave it open).
        ((value,),) = conn.execute(
            "INSERT INTO counters (key, value, expires) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET "
            "value = CASE WHEN expires <= ? THEN excluded.value "
            "ELSE value + excluded.value END, "
            "expires = CASE WHEN expires <= ? THEN excluded.expires ELSE expires END "
            "RETURNING value",
            (key, amount, now + expiry, now, now),
        ).fetchall()
        if int(now) % 64 == 0:  # now and then, forget windows long over
            conn.execute("DELETE FROM counters WHERE expires <= ?", (now - 3600,))
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


F = TypeVar("F", bound=Callable[..., Any])


class RateLimits:
    """One budget per user for every request (but the exempt endpoints), and one more for all of
    a user's answers, whichever route (API or page form) they come by."""

    def __init__(self, settings: config.Settings) -> None:
        self.storage = cast(Storage, storage_from_string(storage_uri(settings)))
        # If the shared storage is down, count in this process rather than refuse every request.
        self.fallback: Storage = MemoryStorage()
        self.requests = parse_many(settings.rate_limit)
        self.answers = parse_many(settings.submit_rate_limit)
        self.exempt: set[str] = set()

    def install(self, app: Flask) -> None:
        app.before_request(self._count_request)
        app.after_request(self._headers)

    def limit_answers(self, view: F) -> F:
        def limited(*args: Any, **kwargs: Any) -> Any:
            self._spend(self.answers, "answers")
            return view(*args, **kwargs)

        return cast(F, functools.wraps(view)(limited))

    def _count_request(self) -> None:
        if request.endpoint not in self.exempt:
            self._spend(self.requests, "requests")

    def _spend(self, items: list[RateLimitItem], scope: str) -> None:
        key = rate_limit_key()
        for item in items:
            counter = item.key_for(scope, key)
            try:
                used, storage = self.storage.incr(counter, item.get_expiry()), self.storage
            except self.storage.base_exceptions:
                used, storage = self.fallback.incr(counter, item.get_expiry()), self.fallback
            if scope == "requests":
                g.rate_limit = (item.amount, max(0, item.amount - used))
            if used > item.amount:
                try:
                    wait = max(1, int(storage.get_expiry(counter) - time.time() + 0.999))
                except storage.base_exceptions:
                    wait = item.get_expiry()
                raise TooManyRequests(str(item), retry_after=wait)

    def _headers(self, response: Response) -> Response:
        spent = g.get("rate_limit")
        if spent is not None:
            response.headers["X-RateLimit-Limit"] = str(spent[0])
            response.headers["X-RateLimit-Remaining"] = str(spent[1])
        return response


def init_rate_limits(app: Flask, settings: config.Settings) -> RateLimits:
    limits = RateLimits(settings)
    limits.install(app)
    return limits
