"""Scale-out grading: Dramatiq over Redis or RabbitMQ, and the `holdout worker` process.

Messages carry only a submission id; the row stays the truth. A worker claims the row before
grading (so a duplicate message does nothing), and its sweeper re-sends what a broker outage or a
dead worker left behind. The API never grades in this mode.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications
from flask import Flask

from service.jobs import (
    REDISPATCH_SECONDS,
    RUNNING,
    claim_for_student,
    mark_dispatched,
    new_owner,
    redispatch_due,
)
from service.models import db

log = logging.getLogger("holdout.broker")
QUEUE = "holdout-grading"
# Grading is idempotent and the sweeper re-sends lost work, so Dramatiq's own retries and time
# limits are left out: a slow student's code is a grade, not a retry.
MIDDLEWARE = [AgeLimit, ShutdownNotifications, Callbacks, Pipelines, Retries]
# How long, past the grace, a stopping worker waits for its broker connections to close.
STOP_CLOSE_SECONDS = 10.0


def make_broker(url: str) -> dramatiq.Broker:
    middleware = [m() for m in MIDDLEWARE]
    if url.startswith(("redis://", "rediss://", "unix://")):
        broker: dramatiq.Broker = RedisBroker(url=url, middleware=middleware)
    elif url.startswith(("amqp://", "amqps://")):
        broker = RabbitmqBroker(url=url, middleware=middleware, confirm_delivery=True)
    else:
        raise SystemExit(f"HOLDOUT_BROKER_URL must start with redis:// or amqp://, got {url!r}")
    return broker


class BrokerQueue:
    """The API's and the worker's view of the broker: send a submission id, check it answers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.broker = make_broker(url)
        self.app: Flask | None = None
        self.in_flight: dict[int, str] = {}
        self.lock = threading.Lock()
        self.actor = dramatiq.actor(
            actor_name="grade_submission", queue_name=QUEUE, broker=self.broker, max_retries=0
        )(self._grade)
        self.broker.declare_queue(QUEUE)

    def send(self, submission_id: int) -> None:
        self.actor.send(submission_id)

    def dispatch(self, submission_ids: list[int]) -> None:
        """Send ids after their rows are committed. A broker outage is not an error for the
        student: the rows stay queued and the sweeper sends them when the broker is back."""
        try:
            for submission_id in submission_ids:
                self.send(submission_id)
        except Exception:
            log.warning("broker unavailable; the sweeper will dispatch later", exc_info=True)
            return
        mark_dispatched(submission_ids)
        db.session.commit()

    def ping(self) -> dict[str, Any]:
        try:
            if isinstance(self.broker, RedisBroker):
                self.broker.client.ping()
            elif isinstance(self.broker, RabbitmqBroker):
                self.broker.channel.queue_declare(QUEUE, durable=True, passive=True)
            return {"ok": True, "url": _redact(self.url)}
        except Exception as exc:
            return {"ok": False, "url": _redact(self.url), "error": f"{type(exc).__name__}: {exc}"}

    def _grade(self, submission_id: int) -> None:
        next_id: int | None = submission_id
        reserved = False
        while next_id is not None:
            next_id = self._grade_one(next_id, reserved)
            reserved = True  # every later id came from RUNNING.done

    def _grade_one(self, submission_id: int, reserved: bool = False) -> int | None:
        """Grade one submission if it can be claimed now; returns the next one this thread grades
        (one of the same student's, parked meanwhile: see StudentJobs). `reserved`: the id came
        from RUNNING.done."""
        from service.jobs import run_claimed

        assert self.app is not None, "only workers consume messages"
        owner = new_owner()
        held = reserved  # whether this thread holds the student's turn (reserved, or claimed)
        try:
            with self.app.app_context():
                try:
                    held = claimed = claim_for_student(submission_id, owner, RUNNING, reserved)
                finally:
                    db.session.remove()
            if not claimed:
                # Parked, graded already, or someone else holds the lease. A reserved turn that
                # was not used goes to the student's next parked submission.
                return RUNNING.done(submission_id) if reserved else None
            with self.lock:
                self.in_flight[submission_id] = owner
            try:
                run_claimed(self.app, submission_id, owner)
            finally:
                with self.lock:
                    self.in_flight.pop(submission_id, None)
        except BaseException:
            # Logged where it happened; the student's turn must not stay taken by a thread that
            # is gone (their later messages would be parked for good). Only the thread holding
            # it frees it: another thread's message for the same id is merely parked.
            if held:
                RUNNING.abandon(submission_id)
            raise
        return RUNNING.done(submission_id)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _stop_worker(worker: dramatiq.Worker, grace_seconds: float) -> None:
    try:
        worker.stop(timeout=int(grace_seconds * 1000))
    except Exception:
        # The broker client can fail while closing (pika races its own I/O loop on a consumer
        # that is being cancelled): what is in flight is released all the same.
        log.warning("the broker connection failed while stopping", exc_info=True)


def run_worker(app: Flask, queue: BrokerQueue, threads: int, grace_seconds: float) -> None:
    """Consume grading messages until SIGTERM or SIGINT; then finish or release what's in flight."""
    from service.background import start_background, stop_background
    from service.jobs import release

    queue.app = app
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    worker = dramatiq.Worker(queue.broker, worker_threads=threads, queues={QUEUE})
    worker.start()
    start_background(app)  # deliveries and housekeeping, on threads of their own
    log.info("worker started", extra={"threads": threads, "broker": _redact(queue.url)})
    while not stopping.wait(min(REDISPATCH_SECONDS / 3, 2.0)):
        with app.app_context():
            try:
                redispatch_due(queue.send)
            except Exception:
                log.exception("sweeper iteration failed")
            finally:
                db.session.remove()
    stop_background(app)
    log.info("stopping: finishing jobs in flight", extra={"grace_seconds": grace_seconds})
    # Stopping closes every thread's broker connection from this one; pika's connections are not
    # thread-safe, and a close can wait forever for a reply another thread's I/O loop consumed
    # (seen here: still closing 30 s after SIGTERM). It gets a bounded time; whatever it leaves
    # open closes with the process, and the broker requeues what was not acknowledged.
    stopper = threading.Thread(
        target=_stop_worker, args=(worker, grace_seconds), name="holdout-stop", daemon=True
    )
    stopper.start()
    stopper.join(grace_seconds + STOP_CLOSE_SECONDS)
    if stopper.is_alive():
        log.warning(
            "the broker connection did not close in time; the exit closes it",
            extra={"waited_seconds": grace_seconds + STOP_CLOSE_SECONDS},
        )
    with queue.lock:
        left = dict(queue.in_flight)
    with app.app_context():
        for submission_id, owner in left.items():
            release(submission_id, owner)
            log.warning("released unfinished job", extra={"submission_id": submission_id})
        db.session.remove()
    log.info("worker stopped")
