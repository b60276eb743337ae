"""Grading jobs: claiming queued submissions with a lease, running them, and recovering them.

The submission row is the source of truth: queued -> running (leased) -> graded | failed.
Without a broker, an executor thread pool inside each API process claims queued rows (also the
ones left behind by a restart or crash). With HOLDOUT_BROKER_URL, the API only sends the id to
Dramatiq and `holdout worker` processes claim and grade; their sweeper re-sends what is due.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, or_, select, update

from grader import SandboxUnavailable
from service import config, metrics
from service.background import start_background, stop_background
from service.models import Submission, SubmissionStatus, db, rows_changed, utcnow

log = logging.getLogger("holdout.jobs")


LEASE_SECONDS = config.current().lease_seconds
MAX_CLAIMS = config.current().max_claims
POLL_SECONDS = config.current().poll_seconds
REDISPATCH_SECONDS = config.current().redispatch_seconds
# A queued row sent this many sweep periods ago is sent again even if the queue looks busy.
LOST_AFTER_SWEEPS = 10


def new_owner() -> str:
    """A lease owner id that names the machine, process and job: useful in logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claimable() -> Any:
    now = utcnow()
    return or_(
        Submission.status == SubmissionStatus.QUEUED,
        (Submission.status == SubmissionStatus.RUNNING) & (Submission.lease_expires_at < now),
    )


def claim(submission_id: int, owner: str) -> bool:
    """Take the lease on one submission if it is queued or its lease has expired.

    One conditional UPDATE: on PostgreSQL the row lock makes a second claimer re-check the
    condition after the first commits; on SQLite writers are serialized. Either way, one wins."""
    claimed = rows_changed(
        update(Submission)
        .where(Submission.id == submission_id, _claimable())
        .values(
            status=SubmissionStatus.RUNNING,
            lease_owner=owner,
            lease_expires_at=utcnow() + timedelta(seconds=LEASE_SECONDS),
            claims=Submission.claims + 1,
        )
    )
    db.session.commit()
    return claimed == 1


class StudentJobs:
    """The grading jobs running in this process, by student. Fair queueing: a process runs at most
    one job per student at a time, so one student's burst of slow submissions never holds every
    grading thread while other students wait (their jobs run in the threads left free).

    Claims go through `lock`, so that two threads never both take a job of the same student. A
    worker's message for a busy student is parked here (once, however often the sweeper sends it)
    and graded, in order, by the thread that finishes that student's job: `done` hands that thread
    the next parked id with the student's turn reserved for it, and when that id cannot be claimed
    (another process graded it meanwhile) the thread calls `done` for it and takes the one after.
    Parked ids exist only while their student has a job running or reserved here (if the process
    dies, the rows are still queued and the sweeper sends them again)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._students: dict[int, int] = {}  # submission id -> user id
        self._parked: dict[int, deque[int]] = {}  # user id -> submission ids waiting here

    def students(self) -> set[int]:
        return set(self._students.values())

    def add(self, submission_id: int, user_id: int) -> None:
        self._students[submission_id] = user_id

    def park(self, user_id: int, submission_id: int) -> None:
        waiting = self._parked.setdefault(user_id, deque())
        if submission_id not in waiting:
            waiting.append(submission_id)

    def abandon(self, submission_id: int) -> None:
        """The thread that ran or held this job failed: free its student's turn and drop their
        parked ids (their rows are still queued: the sweeper sends them again)."""
        with self.lock:
            user_id = self._students.pop(submission_id, None)
            if user_id is not None:
                self._parked.pop(user_id, None)

    def done(self, submission_id: int) -> int | None:
        """The job ended (or the caller's reserved turn could not be claimed); returns the next
        parked submission of its student, if any, with the student's turn reserved for it: claim
        it with `claim_for_student(..., reserved=True)`."""
        with self.lock:
            user_id = self._students.pop(submission_id, None)
            waiting = self._parked.get(user_id) if user_id is not None else None
            if user_id is None or not waiting:
                return None
            next_id = waiting.popleft()
            if not waiting:
                del self._parked[user_id]
            self._students[next_id] = user_id
            return next_id


# This process's jobs, for the embedded executor's threads and a worker's Dramatiq threads alike.
RUNNING = StudentJobs()


def claim_next(owner: str, running: StudentJobs | None = None) -> int | None:
    """Claim the oldest claimable submission (with `running`: of a student who has no job in
    `running`, and record it there); None when there is nothing to do."""
    if running is None:
        return _claim_oldest(owner, set(), None)
    with running.lock:
        return _claim_oldest(owner, running.students(), running)


def _claim_oldest(owner: str, busy: set[int], running: StudentJobs | None) -> int | None:
    query = select(Submission.id, Submission.user_id).where(_claimable())
    if busy:
        query = query.where(Submission.user_id.not_in(busy))
    candidates = db.session.execute(query.order_by(Submission.id).limit(8)).all()
    db.session.rollback()
    for submission_id, user_id in candidates:
        if claim(submission_id, owner):
            if running is not None:
                running.add(submission_id, user_id)
            return int(submission_id)
    return None


def claim_for_student(
    submission_id: int, owner: str, running: StudentJobs, reserved: bool = False
) -> bool:
    """Claim this submission and record it in `running`, unless its student already has a job
    there: then it is parked, for the thread that finishes that job. False when not claimed now
    (parked, graded already, or someone else holds the lease). `reserved`: the id came from
    `running.done`, which holds the student's turn for it (a False then needs `done` again)."""
    with running.lock:
        user_id = db.session.scalar(
            select(Submission.user_id).where(Submission.id == submission_id)
        )
        db.session.rollback()
        if user_id is None:
            return False
        if not reserved and user_id in running.students():
            running.park(user_id, submission_id)
            return False
        if not claim(submission_id, owner):
            return False
        running.add(submission_id, user_id)
        return True


def renew(submission_id: int, owner: str) -> bool:
    renewed = rows_changed(
        update(Submission)
        .where(
            Submission.id == submission_id,
            Submission.lease_owner == owner,
            Submission.status == SubmissionStatus.RUNNING,
        )
        .values(lease_expires_at=utcnow() + timedelta(seconds=LEASE_SECONDS))
    )
    db.session.commit()
    return renewed == 1


def release(submission_id: int, owner: str) -> None:
    """Give a claimed submission back to the queue (shutdown, or the sandbox is unavailable)."""
    db.session.rollback()
    rows_changed(
        update(Submission)
        .where(Submission.id == submission_id, Submission.lease_owner == owner)
        .where(Submission.status == SubmissionStatus.RUNNING)
        .values(status=SubmissionStatus.QUEUED, lease_owner=None, lease_expires_at=None)
    )
    db.session.commit()


def _give_up(submission_id: int, owner: str, claims: int) -> None:
    from service.grades import grade_result
    from service.grading import write_result

    feedback = (
        f"Grading was interrupted {claims} times (the grading process stopped); "
        "an instructor can regrade this submission."
    )
    write_result(submission_id, owner, grade_result(SubmissionStatus.FAILED, 0.0, [], feedback))


def run_claimed(app: Flask, submission_id: int, owner: str) -> None:
    """Grade a claimed submission, renewing its lease while the sandbox works."""
    from service.grading import grade_submission

    with app.app_context():
        claims = db.session.scalar(select(Submission.claims).where(Submission.id == submission_id))
        if claims is not None and claims > MAX_CLAIMS:
            _give_up(submission_id, owner, claims - 1)
            return
        stop = threading.Event()
        heartbeat = threading.Thread(
            target=_heartbeat, args=(app, submission_id, owner, stop), daemon=True
        )
        heartbeat.start()
        started, outcome = time.monotonic(), "crashed"
        try:
            outcome = "written" if grade_submission(submission_id, owner) else "lease_lost"
        except SandboxUnavailable:
            outcome = "sandbox_unavailable"
            log.exception("sandbox unavailable; submission released")
            release(submission_id, owner)
            raise
        except Exception:
            log.exception("grading crashed; the lease will expire and it will be retried")
            db.session.rollback()
            raise
        finally:
            stop.set()
            heartbeat.join()
            _count_job(submission_id, outcome, time.monotonic() - started)
            db.session.remove()


def _count_job(submission_id: int, outcome: str, seconds: float) -> None:
    """Metrics: a written job counts as its grade's status (graded or failed), with its lag."""
    lag = None
    if outcome == "written":
        row = db.session.execute(
            select(Submission.status, Submission.created_at, Submission.graded_at).where(
                Submission.id == submission_id
            )
        ).one_or_none()
        db.session.rollback()
        if row is not None:
            outcome = row.status.value
            if row.graded_at is not None:
                lag = (row.graded_at - row.created_at).total_seconds()
    metrics.job_finished(outcome, seconds, lag)


def _heartbeat(app: Flask, submission_id: int, owner: str, stop: threading.Event) -> None:
    with app.app_context():
        try:
            while not stop.wait(LEASE_SECONDS / 3):
                if not renew(submission_id, owner):
                    return
        finally:
            db.session.remove()


class EmbeddedExecutor:
    """Grading threads inside an API process: no broker, no other server."""

    def __init__(self, app: Flask, threads: int) -> None:
        self.app = app
        self.wakeup = threading.Event()
        self.stopping = threading.Event()
        self.in_flight: dict[int, str] = {}
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._loop, name=f"holdout-grader-{i}", daemon=True)
            for i in range(threads)
        ]
        self.threads.append(
            threading.Thread(target=self._warm_up, name="holdout-grader-warm-up", daemon=True)
        )

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def wake(self) -> None:
        self.wakeup.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming; wait for jobs in flight, and give back any that outlast the timeout."""
        self.stopping.set()
        self.wakeup.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            if thread.ident is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        with self.lock:
            left = dict(self.in_flight)
        with self.app.app_context():
            for submission_id, owner in left.items():
                release(submission_id, owner)
            db.session.remove()

    def _warm_up(self) -> None:
        """Start this process's grader (zygote, standbys, probe jobs) as the process starts, not
        on the first code answer: about a second of CPU that would land in the middle of serving
        (an exam's first code answers come while its students are still arriving)."""
        from service.grading import get_grader

        with self.app.app_context():
            try:
                get_grader().sandbox_status()
            except Exception:  # grading says why when it is asked to grade
                log.exception("the grader did not start")

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                did_work = self._once()
            except Exception:
                log.exception("executor iteration failed")
                did_work = False
            if not did_work:
                self.wakeup.wait(POLL_SECONDS)
                self.wakeup.clear()

    def _once(self) -> bool:
        owner = new_owner()
        with self.app.app_context():
            try:
                submission_id = claim_next(owner, RUNNING)
            finally:
                db.session.remove()
        if submission_id is None:
            return False
        with self.lock:
            self.in_flight[submission_id] = owner
        try:
            run_claimed(self.app, submission_id, owner)
        except SandboxUnavailable:
            self.stopping.wait(5)  # don't spin while the operator fixes the machine
        except Exception:  # logged in run_claimed; the lease expires and it is retried
            pass
        finally:
            RUNNING.done(submission_id)
            with self.lock:
                self.in_flight.pop(submission_id, None)
        return True


def redispatch_due(send: Callable[[int], None]) -> int:
    """Send again what a broker may have lost: queued rows never sent, queued rows the queue has
    moved past (a row sent after them is running, or nothing runs at all), and running rows whose
    lease expired (their worker died). Returns how many were sent.

    A queued row in a backlog is only waiting its turn: sending it again every sweep would pile
    copies of the backlog onto the broker. It is sent again only once a later one is being
    graded (or no worker grades anything), and in any case after LOST_AFTER_SWEEPS periods."""
    now = utcnow()
    stale = now - timedelta(seconds=REDISPATCH_SECONDS)
    lost = now - timedelta(seconds=REDISPATCH_SECONDS * LOST_AFTER_SWEEPS)
    running = Submission.status == SubmissionStatus.RUNNING
    passed = db.session.scalar(select(func.max(Submission.dispatched_at)).where(running))
    overtaken = Submission.dispatched_at < (min(stale, passed) if passed is not None else stale)
    due = db.session.scalars(
        select(Submission.id)
        .where(
            or_(
                (Submission.status == SubmissionStatus.QUEUED)
                & or_(
                    Submission.dispatched_at.is_(None),
                    overtaken,
                    Submission.dispatched_at < lost,
                ),
                running & (Submission.lease_expires_at < now),
            )
        )
        .order_by(Submission.id)
        .limit(500)
    ).all()
    sent = 0
    for submission_id in due:
        try:
            send(submission_id)
        except Exception:
            log.warning("broker unavailable; will retry", exc_info=True)
            break
        mark_dispatched([submission_id])
        sent += 1
    db.session.commit()
    return sent


def mark_dispatched(submission_ids: list[int]) -> None:
    rows_changed(
        update(Submission).where(Submission.id.in_(submission_ids)).values(dispatched_at=utcnow())
    )


def dispatch(submission_ids: list[int]) -> None:
    """Hand newly committed queued submissions to whoever grades them in this deployment."""
    from flask import current_app

    if not submission_ids:
        return
    queue = current_app.extensions.get("holdout_broker")
    if queue is not None:
        queue.dispatch(submission_ids)
        return
    executor = current_app.extensions.get("holdout_executor")
    if executor is not None:
        executor.wake()


def start_embedded_executor(app: Flask) -> EmbeddedExecutor | None:
    """Start grading threads in this process, unless a broker sends the work to workers."""
    from service.grading import grader_slots

    if app.extensions.get("holdout_broker") is not None:
        return None
    executor: EmbeddedExecutor | None = app.extensions.get("holdout_executor")
    if executor is None:
        executor = EmbeddedExecutor(app, threads=grader_slots())
        app.extensions["holdout_executor"] = executor
        executor.start()
        start_background(app)  # deliveries and housekeeping: threads of their own
    return executor


def stop_embedded_executor(app: Flask, timeout: float) -> None:
    from service.grading import close_grader

    executor = app.extensions.pop("holdout_executor", None)
    if executor is not None:
        executor.stop(timeout)
        stop_background(app)
    close_grader()
