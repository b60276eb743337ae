"""A short-lived, per-process cache of whole GET answers, for the API's hottest reads.

`GET /api/v1/questions` is what every student's page asks first and often, and its answer changes
only when an instructor edits the bank. The cache keeps the serialized answer per bearer token and
query string for HOLDOUT_CACHE_SECONDS, so a repeated request costs neither a database query
(token or list) nor serialization. What it means for correctness:

- Changes made in this process take effect at once: any write to a question, and any revocation
  of a token, empties the cache (SQLAlchemy events).
- Changes made by another process (another gunicorn worker or node, `holdout token revoke`,
  `holdout bank load`) take effect within HOLDOUT_CACHE_SECONDS (5 s by default) there.
- Only answers to a bearer token are cached, keyed by the token's hash: a cached answer is never
  given to another token, and a browser session (cookie) always takes the normal path.

The rate limiter needs to know whose budget a request spends before the view runs. For a bearer
token it asks `token_owner`, which keeps the token hash's owner (the limiter's key, not a
credential) for the same time under the same rules, so a cached answer is not made to cost a
token query after all. A token revoked in another process may thus still spend its user's budget
for up to HOLDOUT_CACHE_SECONDS; it is refused by authentication all the same.

This is the only place answers or tokens are cached; authentication itself (service/auth.py and
sessions) is unchanged and runs on every cache miss.

Nothing else may keep an answer that depends on who asks: every response to an authenticated
request (a bearer token or the pages' session cookie, a cached answer included) and every one
that sets or clears a cookie says `Cache-Control: private, no-store` (`private_answers`), so no
proxy, CDN or shared browser keeps a gradebook or an answer key. The pages fetch the API with the
session cookie, not an Authorization header, so the HTTP rule that shared caches do not store
answers to Authorization requests does not cover them. An endpoint that sets its own
Cache-Control keeps it, made `private` if it was not. Public answers (health, OpenAPI, the tool's
JWKS, static files) are left as they are.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, Response, current_app, g, make_response, request, session
from sqlalchemy import event, inspect

F = TypeVar("F", bound=Callable[..., Any])
MAX_ENTRIES = 10_000  # about 1,000 students with a few filters each; then it starts afresh

_lock = threading.Lock()
_entries: dict[tuple[str, str, bytes], tuple[float, int, bytes, str]] = {}
_owners: dict[str, tuple[float, str]] = {}
_generation = 0


def invalidate() -> None:
    """Forget every cached answer (something they were made from changed in this process)."""
    global _generation
    with _lock:
        _generation += 1
        _entries.clear()
        _owners.clear()


def _bearer_hash(header: str) -> str | None:
    if not header.lower().startswith("bearer "):
        return None
    return hashlib.sha256(header[7:].strip().encode()).hexdigest()


def token_owner(header: str, find: Callable[[], str | None]) -> str | None:
    """Who the bearer token in `header` belongs to, as `find()` names it (None: unknown token,
    never kept), from this process's memory when it was asked within HOLDOUT_CACHE_SECONDS."""
    ttl = current_app.config["HOLDOUT_SETTINGS"].cache_seconds
    token_hash = _bearer_hash(header)
    if ttl <= 0 or token_hash is None:
        return find()
    now = time.monotonic()
    hit = _owners.get(token_hash)
    if hit is not None and hit[0] > now:
        return hit[1]
    generation = _generation
    owner = find()
    if owner is not None:
        with _lock:
            if generation == _generation:
                if len(_owners) >= MAX_ENTRIES:
                    _owners.clear()
                _owners[token_hash] = (now + ttl, owner)
    return owner


def cached_get(view: F) -> F:
    """Serve repeated GETs of this view from the cache (see the module's docstring). Put it
    above the auth decorator: a miss runs the view, authentication included."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ttl = current_app.config["HOLDOUT_SETTINGS"].cache_seconds
        token_hash = _bearer_hash(request.headers.get("Authorization", ""))
        if ttl <= 0 or token_hash is None:
            return view(*args, **kwargs)
        key = (request.endpoint or "", token_hash, request.query_string)
        now = time.monotonic()
        hit = _entries.get(key)
        if hit is not None and hit[0] > now:
            _, user_id, body, mimetype = hit
            g.user_id = user_id  # for the access log, as the normal path sets it
            return Response(body, 200, mimetype=mimetype)
        generation = _generation
        response = make_response(view(*args, **kwargs))
        user_id = g.get("user_id")
        if response.status_code == 200 and user_id is not None and not response.is_streamed:
            with _lock:
                if generation == _generation:  # nothing changed while the view ran
                    if len(_entries) >= MAX_ENTRIES:
                        _entries.clear()
                    mimetype = response.mimetype or "application/json"
                    entry = (now + ttl, user_id, response.get_data(), mimetype)
                    _entries[key] = entry
        return response

    return cast(F, wrapper)


def install() -> None:
    """Empty the cache on every write of a question and every revocation, in this process."""
    from service.models import ApiToken, Question

    if event.contains(Question, "after_update", _question_changed):
        return
    for name in ("after_insert", "after_update", "after_delete"):
        event.listen(Question, name, _question_changed)
    event.listen(ApiToken, "after_update", _token_changed)


def _question_changed(*_: Any) -> None:
    invalidate()


def _token_changed(_mapper: Any, _connection: Any, token: Any) -> None:
    if inspect(token).attrs.revoked_at.history.has_changes():
        invalidate()


PRIVATE = "private, no-store"


def private_answers(response: Response) -> Response:
    """`Cache-Control: private, no-store` on an answer to someone in particular (see above)."""
    personal = (
        g.get("user_id") is not None
        or "Set-Cookie" in response.headers
        or session.modified  # Flask's own cookie, written after this runs
    )
    if not personal:
        return response
    own = response.headers.get("Cache-Control")
    if not own:
        response.headers["Cache-Control"] = PRIVATE
    else:
        directives = [d.strip() for d in own.split(",") if d.strip()]
        if not any(d.lower() == "private" for d in directives):
            kept = [d for d in directives if d.lower() != "public"]
            response.headers["Cache-Control"] = ", ".join(["private", *kept])
    return response


def install_headers(app: Flask) -> None:
    """Register `private_answers` first, so it runs last and sees every header set before it."""
    app.after_request(private_answers)
