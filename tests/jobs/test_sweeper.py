"""The workers' sweeper sends a queued submission again only when its message looks lost: it was
never sent, the queue has moved past it (a submission sent after it is being graded, or nothing is
being graded at all), or it was sent long ago. A backlog that is merely waiting its turn is not
copied onto the broker again at every sweep."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from service import jobs
from service.models import Submission, SubmissionStatus, db, utcnow
from tests.jobs.conftest import read_answer
from tests.jobs.test_embedded_grading import submit


def sent_ago(submission_id: int, periods: float | None) -> None:
    """Mark a row as sent `periods` sweep periods ago (None: never sent)."""
    when = (
        None if periods is None else utcnow() - timedelta(seconds=jobs.REDISPATCH_SECONDS * periods)
    )
    db.session.execute(
        update(Submission).where(Submission.id == submission_id).values(dispatched_at=when)
    )
    db.session.commit()


def sweep() -> list[int]:
    sent: list[int] = []
    jobs.redispatch_due(sent.append)
    return sent


def test_the_sweeper_sends_again_only_what_looks_lost(
    dropout_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    oldest, older, newer, newest = (
        int(submit(client, student, read_answer("reference"))["id"]) for _ in range(4)
    )
    with dropout_app.app_context():
        for submission_id, periods in ((oldest, 4), (older, 3), (newer, 2), (newest, 1.5)):
            sent_ago(submission_id, periods)
        # Nothing is being graded: every stale queued row may have been lost.
        assert sweep() == [oldest, older, newer, newest]

        for submission_id, periods in ((oldest, 4), (newer, 2), (newest, 1.5)):
            sent_ago(submission_id, periods)
        sent_ago(older, 3)
        assert jobs.claim(older, "worker")  # the queue reached `older`
        # Sent before the row being graded: passed over, so lost. Sent after it: waiting.
        assert sweep() == [oldest]
        assert sweep() == []  # and `oldest` was marked as sent just now

        sent_ago(newest, jobs.LOST_AFTER_SWEEPS + 1)
        assert sweep() == [newest]  # however busy the queue looks, not forever

        never = int(submit(client, student, read_answer("reference"))["id"])
        sent_ago(never, None)
        assert sweep() == [never]

        # A running row whose lease ran out (its worker died) is sent again, as before.
        db.session.execute(
            update(Submission)
            .where(Submission.id == older)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        assert sweep() == [older]
        row = db.session.get(Submission, newer)
        assert row is not None and row.status == SubmissionStatus.QUEUED
