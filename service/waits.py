"""Waiting without a thread: long polls parked on an event loop, in front of the Flask app.

gunicorn runs holdout with a uvicorn worker (`Worker`, set in service/gunicorn_conf.py), which
serves `WaitingFront`, an ASGI app wrapped around the unchanged Flask app:

- every request goes to Flask, which runs in a pool of HOLDOUT_THREADS threads (a2wsgi);
- except the wait itself: `GET /api/v1/submissions/<id>?wait=N`. The front asks Flask for the
  submission at once (same auth, same answer, without the wait); if it is still queued or
  running, the request is parked on the event loop, holding no thread, until the grade event
  wakes it or the time is up; then Flask answers it again, which is what the client gets.

A grade wakes its waiters three ways: the grade writer's after-commit event when the grade was
written in this process; PostgreSQL's LISTEN/NOTIFY when it was written in another process (another
API worker, a `holdout worker`); and, for SQLite or a lost notification, a sweep that looks up the
parked submissions in one query every SWEEP_SECONDS.

A user has at most HOLDOUT_MAX_WAITS_PER_USER parked waits and a process HOLDOUT_MAX_WAITS; past
either, the wait is answered at once with the current status and `Retry-After`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from a2wsgi import WSGIMiddleware
from flask import Flask
from sqlalchemy import select
from uvicorn_worker import UvicornWorker

from service import events
from service.events import SubmissionGraded
from service.http11 import HttpProtocol
from service.models import Submission, SubmissionStatus, db

log = logging.getLogger("holdout.waits")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

WAIT_PATH = re.compile(r"^/api/v1/submissions/(\d+)$")
MAX_WAIT_SECONDS = 30.0
SWEEP_SECONDS = 0.5
RETRY_AFTER_SECONDS = 2
# The front asks Flask, with this header, to name the user in USER_HEADER; a client's own copy of
# either header is dropped on the way in and on the way out.
CHECK_HEADER = b"x-holdout-wait-check"
USER_HEADER = b"x-holdout-wait-user"
SETTLED = {str(SubmissionStatus.GRADED), str(SubmissionStatus.FAILED)}
NOTIFY_CHANNEL = "holdout_graded"


def wait_seconds(query: bytes) -> float | None:
    """The wait asked for, if it is one the front parks (a valid, positive wait); None leaves
    the request to Flask, which also answers an invalid one with its 422."""
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    waits = [value for name, value in pairs if name == "wait"]
    if len(waits) != 1 or len(pairs) != 1:
        return None
    try:
        seconds = float(waits[0])
    except ValueError:
        return None
    return seconds if 0 < seconds <= MAX_WAIT_SECONDS else None


class Captured:
    """A response from the Flask app, kept to be looked at before it is sent."""

    def __init__(self) -> None:
        self.start: Message = {}
        self.body = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = dict(message)
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    @property
    def status(self) -> int:
        return int(self.start.get("status", 500))

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.start.get("headers", []):
            if key.lower() == name:
                return bytes(value)
        return None

    def submission_status(self) -> str | None:
        if self.status != 200:
            return None
        try:
            found = json.loads(self.body).get("status")
        except (ValueError, AttributeError):
            return None
        return found if isinstance(found, str) else None

    async def forward(self, send: Send, retry_after: int | None = None) -> None:
        dropped = (USER_HEADER, b"retry-after") if retry_after else (USER_HEADER,)
        headers = [(k, v) for k, v in self.start.get("headers", []) if k.lower() not in dropped]
        if retry_after:
            headers.append((b"retry-after", str(retry_after).encode()))
        await send({**self.start, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


class WaitingFront:
    """The ASGI app gunicorn's uvicorn worker serves: Flask for everything, waits parked."""

    def __init__(
        self, flask_app: Flask, threads: int, max_waits: int, max_waits_per_user: int
    ) -> None:
        self.flask_app = flask_app
        self.wsgi: Any = WSGIMiddleware(flask_app, workers=threads)  # type: ignore[arg-type]
        self.max_waits = max_waits
        self.max_waits_per_user = max_waits_per_user
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiters: dict[int, set[asyncio.Event]] = defaultdict(set)
        self.open_by_user: dict[bytes, int] = defaultdict(int)
        self.open = 0
        self.sweeper: asyncio.Task[None] | None = None
        events.bus(flask_app).subscribe(SubmissionGraded, self._graded, "after_commit")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            found = WAIT_PATH.match(scope["path"])
            seconds = wait_seconds(scope.get("query_string", b"")) if found else None
            if found and seconds is not None:
                await self.long_poll(scope, receive, send, int(found.group(1)), seconds)
                return
        await self.wsgi(scope, receive, send)

    # --- one long poll --------------------------------------------------------------------------

    async def long_poll(
        self, scope: Scope, receive: Receive, send: Send, submission_id: int, seconds: float
    ) -> None:
        self._started()
        deadline = time.monotonic() + seconds
        woken = asyncio.Event()
        self.waiters[submission_id].add(woken)  # before looking: a grade in between still wakes
        try:
            first = await self._ask_flask(scope, receive, check=True)
            if first.submission_status() in (None, *SETTLED):
                await first.forward(send)  # settled, refused (401, 404...) or unexpected
                return
            user = first.header(USER_HEADER) or b"?"
            if self.open >= self.max_waits or self.open_by_user[user] >= self.max_waits_per_user:
                await first.forward(send, retry_after=RETRY_AFTER_SECONDS)
                return
            self.open += 1
            self.open_by_user[user] += 1
            try:
                if not await self._park(woken, receive, deadline):
                    return  # the client went away
            finally:
                self.open -= 1
                self.open_by_user[user] -= 1
                if not self.open_by_user[user]:
                    del self.open_by_user[user]
        finally:
            self._forget(submission_id, woken)
        final = await self._ask_flask(scope, receive, check=False)
        await final.forward(send)

    async def _park(self, woken: asyncio.Event, receive: Receive, deadline: float) -> bool:
        """Wait for the wake-up or the deadline; False if the client disconnected first."""
        disconnect = asyncio.ensure_future(_disconnected(receive))
        wake = asyncio.ensure_future(woken.wait())
        try:
            done, _ = await asyncio.wait(
                {disconnect, wake},
                timeout=max(0.0, deadline - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for task in (disconnect, wake):
                task.cancel()
        return disconnect not in done

    async def _ask_flask(self, scope: Scope, receive: Receive, check: bool) -> Captured:
        headers = [
            (k, v) for k, v in scope["headers"] if k.lower() not in (CHECK_HEADER, USER_HEADER)
        ]
        if check:
            headers.append((CHECK_HEADER, b"1"))
        asked = {**scope, "headers": headers, "query_string": urlencode({"wait": 0}).encode()}
        captured = Captured()
        await self.wsgi(asked, _no_body, captured.send)
        return captured

    # --- waking ---------------------------------------------------------------------------------

    def _started(self) -> None:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
            self.sweeper = self.loop.create_task(self._sweep())
            if self.flask_app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
                threading.Thread(
                    target=self._listen, name="holdout-wait-listen", daemon=True
                ).start()

    def _graded(self, event: SubmissionGraded) -> None:
        """After-commit listener (any thread of this process)."""
        self.wake_threadsafe([event.submission_id])

    def wake_threadsafe(self, submission_ids: list[int]) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._wake, submission_ids)

    def _wake(self, submission_ids: list[int]) -> None:
        for submission_id in submission_ids:
            for woken in self.waiters.get(submission_id, ()):
                woken.set()

    def _forget(self, submission_id: int, woken: asyncio.Event) -> None:
        parked = self.waiters.get(submission_id)
        if parked is not None:
            parked.discard(woken)
            if not parked:
                del self.waiters[submission_id]

    async def _sweep(self) -> None:
        """Grades written elsewhere: one query for every parked submission, twice a second."""
        assert self.loop is not None
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            parked = list(self.waiters)
            if not parked:
                continue
            try:
                settled = await self.loop.run_in_executor(None, self._settled, parked)
            except Exception:
                log.exception("wait sweep failed")
                continue
            self._wake(settled)

    def _settled(self, submission_ids: list[int]) -> list[int]:
        with self.flask_app.app_context():
            try:
                return list(
                    db.session.scalars(
                        select(Submission.id).where(
                            Submission.id.in_(submission_ids),
                            Submission.status.in_(
                                [SubmissionStatus.GRADED, SubmissionStatus.FAILED]
                            ),
                        )
                    )
                )
            finally:
                db.session.remove()

    def _listen(self) -> None:
        """PostgreSQL: hear every process's grades (service.waits.notify_graded) at once."""
        import psycopg

        url = self.flask_app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg", "")
        while True:
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    for note in conn.notifies():
                        if note.payload.isdigit():
                            self.wake_threadsafe([int(note.payload)])
            except Exception:
                log.warning("LISTEN for grades failed; retrying", exc_info=True)
                time.sleep(5)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def notify_graded(event: SubmissionGraded) -> None:
    """In-transaction listener on PostgreSQL: NOTIFY is delivered when the grade commits (and
    never if it rolls back), to every process LISTENing, waits parked there included."""
    from sqlalchemy import text

    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": NOTIFY_CHANNEL, "payload": str(event.submission_id)},
        )


def init_waits(app: Flask) -> None:
    """Grades announce themselves to other processes' waiting clients (called by create_app)."""
    events.bus(app).subscribe(SubmissionGraded, notify_graded)


def flask_of(app: Any) -> Flask:
    """The Flask app behind what a gunicorn worker serves (for gunicorn's hooks)."""
    found: Flask = getattr(app, "flask_app", app)
    return found


class Worker(UvicornWorker):
    """gunicorn's uvicorn worker, serving the Flask app behind a WaitingFront."""

    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "asyncio",
        "http": HttpProtocol,
        "lifespan": "off",
        "interface": "asgi3",
    }

    async def _serve(self) -> None:
        from service.config import current

        app: Any = self.wsgi  # type: ignore[has-type]
        served: Any
        if "holdout_events" in getattr(app, "extensions", {}):
            settings = current()
            served = WaitingFront(
                app,
                threads=self.cfg.threads,
                max_waits=settings.max_waits,
                max_waits_per_user=settings.max_waits_per_user,
            )
        else:  # another WSGI app under the same configuration (a benchmark's bare Flask app)
            served = WSGIMiddleware(app, workers=self.cfg.threads)
        self.wsgi = served
        with contextlib.suppress(asyncio.CancelledError):
            await super()._serve()
