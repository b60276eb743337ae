"""The outbox: one delivery loop for everything holdout sends to the outside world with retries.

Webhook events (service.webhooks) and LMS scores (service.lti.ags) are rows of an outbox table
(service.models.OutboxRow), written in the transaction of the grade they announce. A feature
registers its kind of row (`register_kind`): its table, how to send one row, and where it goes.
The loop (a background task, service.background) finds due rows, and sends each on one of its own
delivery threads, never a grading thread:

- claim: moving the row's next try forward, so another process looking at it skips it;
- timeout: every HTTP exchange has a timeout and a cap on the answer's size and duration;
- backoff: a failed try is retried after BACKOFF * 2**(tries-1) seconds, up to the kind's limit;
- log: each try (when, where, status, error) is appended to the row's log;
- circuit breaker: after BREAKER_FAILURES failures in a row, a destination gets no tries for
  BREAKER_SECONDS (doubling while it keeps failing); its rows wait without spending tries.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import update

from service import background, metrics, outbound
from service.models import JobStatus, db, due_ids, rows_changed, utcnow

log = logging.getLogger("holdout.outbox")
TASK = "deliveries"
POLL_SECONDS = 1.0
HTTP_TIMEOUT_SECONDS = 5.0
MAX_ANSWER_BYTES = 1024 * 1024
BREAKER_FAILURES = 5
BREAKER_SECONDS = 30.0
BREAKER_MAX_SECONDS = 600.0
BATCH = 50


class AnswerTooLarge(Exception):
    pass


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def http_exchange(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = HTTP_TIMEOUT_SECONDS,
    max_bytes: int = MAX_ANSWER_BYTES,
) -> HttpAnswer:
    """One HTTP exchange, bounded: `timeout` for the whole answer (not only for each read, so a
    server dribbling bytes cannot hold a thread), at most `max_bytes` of body, only to a URL
    service.outbound allows (checked at every call; no redirect followed). Raises OSError
    (also for a refused URL, TimeoutError) when there was no usable answer, AnswerTooLarge past
    the cap."""
    try:
        answer = outbound.exchange(
            url, method=method, body=body, headers=headers, timeout=timeout, max_bytes=max_bytes
        )
    except outbound.TooLarge as exc:
        raise AnswerTooLarge(str(exc)) from exc
    # Header names in lower case; a header sent several times, its values joined (RFC 9110).
    names = {name.lower() for name in answer.headers}
    headers = {name: ", ".join(answer.headers.get_all(name) or []) for name in names}
    return HttpAnswer(answer.status, answer.body, headers)


# --- kinds of rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one try came to. `again_in`: not a try at all, come back in that many seconds."""

    status: int | None = None
    error: str = ""
    url: str | None = None
    final: bool = False
    again_in: float | None = None

    @property
    def ok(self) -> bool:
        return not self.error and self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Kind:
    name: str
    model: Any
    send: Callable[[Any], Outcome]  # called with the claimed row, outside any transaction
    destination: Callable[[Any], str]  # the breaker's key: an origin, a platform
    max_tries: Callable[[], int]
    backoff: Callable[[], float]
    claim_seconds: float = 60.0
    on_done: Callable[[Any, Outcome], None] | None = None  # extra columns (e.g. sent_to)


_kinds: dict[str, Kind] = {}


def register_kind(kind: Kind) -> None:
    _kinds[kind.name] = kind


def origin(url: str | None) -> str:
    parts = urllib.parse.urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}"


# --- the breaker ------------------------------------------------------------------------------


class Breaker:
    """Per destination, in this process: how many tries failed in a row, and until when it rests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self._open_until: dict[str, float] = {}

    def resting(self, destination: str) -> float:
        """Seconds this destination still rests (0: it may be tried)."""
        with self._lock:
            return max(0.0, self._open_until.get(destination, 0.0) - time.monotonic())

    def record(self, destination: str, ok: bool) -> None:
        with self._lock:
            if ok:
                self._failures.pop(destination, None)
                self._open_until.pop(destination, None)
                return
            failures = self._failures.get(destination, 0) + 1
            self._failures[destination] = failures
            if failures >= BREAKER_FAILURES:
                doubled = BREAKER_SECONDS * 2 ** (failures - BREAKER_FAILURES)
                rest = min(BREAKER_MAX_SECONDS, doubled)
                self._open_until[destination] = time.monotonic() + rest
                log.warning(
                    "destination resting after failures",
                    extra={"destination": destination, "failures": failures, "seconds": rest},
                )

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._open_until.clear()


breaker = Breaker()


# --- one delivery -----------------------------------------------------------------------------


def deliver(kind: Kind, row_id: int) -> int:
    """Try one row if this process wins its claim; returns 1 if it was tried. Needs an app
    context; holds no transaction while it sends."""
    model = kind.model
    claimed = rows_changed(
        update(model)
        .where(model.id == row_id, model.status == JobStatus.QUEUED, model.next_try_at <= utcnow())
        .values(next_try_at=utcnow() + timedelta(seconds=kind.claim_seconds))
    )
    db.session.commit()
    if claimed != 1:
        return 0
    row = db.session.get(model, row_id)
    assert row is not None
    destination = kind.destination(row)
    resting = breaker.resting(destination)
    if resting > 0:  # no try spent: the destination is down, not this row
        row.next_try_at = utcnow() + timedelta(seconds=resting)
        db.session.commit()
        return 0
    try:
        outcome = kind.send(row)
    except Exception as exc:  # a bug in a sender is a failed try, logged, not a dead loop
        log.exception("delivery crashed", extra={"kind": kind.name, "id": row_id})
        db.session.rollback()
        outcome = Outcome(error=f"{type(exc).__name__}: {exc}")
    row = db.session.get(model, row_id)
    assert row is not None
    if outcome.again_in is not None:
        row.next_try_at = utcnow() + timedelta(seconds=outcome.again_in)
        db.session.commit()
        return 0
    breaker.record(destination, outcome.ok)
    _record(kind, row, outcome)
    db.session.commit()
    return 1


def _iso_now() -> str:
    return utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record(kind: Kind, row: Any, outcome: Outcome) -> None:
    now = utcnow()
    row.tries += 1
    row.last_status_code = outcome.status
    row.last_error = outcome.error[:1000] or None
    row.log = [
        *row.log,
        {
            "at": _iso_now(),
            "url": outcome.url,
            "status": outcome.status,
            "error": outcome.error[:500] or None,
        },
    ]
    if kind.on_done is not None:
        kind.on_done(row, outcome)
    if outcome.ok:
        row.status = JobStatus.DONE
        row.delivered_at = now
        log.info("delivered", extra={"kind": kind.name, "id": row.id, "url": outcome.url})
    elif outcome.final or row.tries >= kind.max_tries():
        row.status = JobStatus.FAILED
        metrics.delivery_failed(kind.name, final=True)
        log.warning(
            "delivery failed for good",
            extra={"kind": kind.name, "id": row.id, "error": outcome.error},
        )
    else:
        metrics.delivery_failed(kind.name, final=False)
        row.next_try_at = now + timedelta(seconds=kind.backoff() * 2 ** (row.tries - 1))


# --- the loop ---------------------------------------------------------------------------------


def deliver_due(app: Flask, *kinds: str, limit: int = BATCH) -> int:
    """Try every due row of these kinds (all kinds by default) here and now, one after the
    other; returns how many were tried. For tests and one-off runs; the loop uses threads."""
    tried = 0
    with app.app_context():
        try:
            for kind in _selected(kinds):
                for row_id in due_ids(kind.model, limit):
                    tried += deliver(kind, row_id)
        finally:
            db.session.remove()
    return tried


def _selected(names: tuple[str, ...]) -> list[Kind]:
    return [_kinds[n] for n in names] if names else list(_kinds.values())


class DeliveryLoop:
    """Hands due rows to a few delivery threads; a row already in hand is not handed twice."""

    def __init__(self, app: Flask, threads: int) -> None:
        self.app = app
        self.threads = threads
        self.pool: ThreadPoolExecutor | None = None  # made on first use, again after a stop
        self.in_hand: set[tuple[str, int]] = set()
        self.lock = threading.Lock()
        self.capacity = threads * 2

    def run(self) -> int:
        """One pass (a background task, inside an app context): returns how many were handed."""
        handed = 0
        for kind in _kinds.values():
            for row_id in due_ids(kind.model, BATCH):
                key = (kind.name, row_id)
                with self.lock:
                    if key in self.in_hand or len(self.in_hand) >= self.capacity:
                        continue
                    self.in_hand.add(key)
                self._pool().submit(self._one, kind, row_id)
                handed += 1
        return handed

    def _one(self, kind: Kind, row_id: int) -> None:
        try:
            with self.app.app_context():
                try:
                    deliver(kind, row_id)
                finally:
                    db.session.remove()
        except Exception:
            log.exception("delivery failed", extra={"kind": kind.name, "id": row_id})
        finally:
            with self.lock:
                self.in_hand.discard((kind.name, row_id))
            background.background(self.app).wake(TASK)

    def _pool(self) -> ThreadPoolExecutor:
        with self.lock:
            if self.pool is None:
                self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="holdout-delivery")
            return self.pool

    def stop(self) -> None:
        with self.lock:
            pool, self.pool = self.pool, None
            self.in_hand.clear()  # what was cancelled is due again: the next start hands it out
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def init_outbox(app: Flask, threads: int) -> None:
    """Register the delivery loop, with this many delivery threads, as a background task."""
    loop = DeliveryLoop(app, threads)
    app.extensions["holdout_delivery_loop"] = loop
    tasks = background.background(app)
    tasks.register(TASK, POLL_SECONDS, loop.run)
    tasks.on_stop.append(loop.stop)


def wake_deliveries(_event: Any = None) -> None:
    """An after-commit listener: a new row may be due now."""
    background.background(current_app._get_current_object()).wake(TASK)  # type: ignore[attr-defined]
