"""A small in-process event bus: what the domain announces, and who listens.

The grade writer (service.grades) and the attempts module publish events; features subscribe at
app start-up (LTI passback, webhooks, attempt rescoring, waiting clients). Each app has its own
bus (`bus()`), so two apps in one process (as in tests) never hear each other.

A subscriber runs in one of two phases:
- `in_transaction`: at once, inside the writer's open transaction. For listeners that write
  (an outbox row, an attempt's new score): what a grade owes the LMS commits with the grade, so it
  is never lost and never invented.
- `after_commit`: once the transaction has committed, and never if it rolls back. For listeners
  that react (wake a waiting client, wake the delivery loop); they get the event, not the session.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from flask import Flask, current_app
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger("holdout.events")
Phase = Literal["in_transaction", "after_commit"]
Handler = Callable[[Any], None]
PENDING_KEY = "holdout_pending_events"


@dataclass(frozen=True)
class SubmissionGraded:
    """A submission has a new grade (first grading, regrade, give-up or override)."""

    submission_id: int
    user_id: int
    attempt_id: int | None
    status: str


@dataclass(frozen=True)
class AttemptHandedIn:
    """A quiz attempt was submitted (by the student, or when its time ran out)."""

    attempt_id: int
    user_id: int


@dataclass(frozen=True)
class AttemptRescored:
    """A handed-in attempt's score changed (one of its code answers was graded later)."""

    attempt_id: int
    user_id: int


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[tuple[type, Phase], list[Handler]] = defaultdict(list)

    def subscribe(
        self, event_type: type, handler: Handler, phase: Phase = "in_transaction"
    ) -> None:
        if handler not in self._handlers[(event_type, phase)]:
            self._handlers[(event_type, phase)].append(handler)

    def publish(self, event: Any, session: Session) -> None:
        """Run the in-transaction listeners now (an exception rolls the writer back: it is part
        of the write), and keep the event for the after-commit listeners of this session."""
        for handler in list(self._handlers[(type(event), "in_transaction")]):
            handler(event)
        if self._handlers[(type(event), "after_commit")]:
            session.info.setdefault(PENDING_KEY, []).append((self, event))

    def deliver_committed(self, event: Any) -> None:
        for handler in list(self._handlers[(type(event), "after_commit")]):
            try:
                handler(event)
            except Exception:  # the grade is committed: a listener's failure is only logged
                log.exception("event listener failed", extra={"event": type(event).__name__})


def init_events(app: Flask) -> EventBus:
    bus = EventBus()
    app.extensions["holdout_events"] = bus
    return bus


def bus(app: Flask | None = None) -> EventBus:
    found: EventBus = (app or current_app).extensions["holdout_events"]
    return found


def publish(event: Any) -> None:
    """Announce an event from inside the current request's or job's transaction."""
    from service.models import db

    bus().publish(event, db.session())


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_KEY, None)
    for owner, event in pending or ():
        owner.deliver_committed(event)


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)  # nothing happened: nothing to announce
