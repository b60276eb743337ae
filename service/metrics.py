"""Operator metrics in Prometheus format, through prometheus_client.

Under gunicorn, every worker process records into files in one folder that is new for each run
(prometheus_client's multiprocess mode, set up in service/gunicorn_conf.py), and `GET /metrics`
sums them, so a scrape sees the whole server whichever worker answers it. Outside gunicorn (the
test client, `holdout worker`) the process's own registry is used. What the database knows
(queue depth, the age of the oldest queued job, submissions by status) is read at scrape time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Requests are mostly milliseconds; long polls last up to 30 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
GRADING_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

REQUESTS = Counter(
    "holdout_http_requests",
    "HTTP requests answered, by route, method and status code",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "holdout_http_request_duration_seconds",
    "Time to answer an HTTP request, by route",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)
JOBS = Counter(
    "holdout_jobs",
    "Grading jobs finished by this server's processes, by outcome (graded, failed: a grade; "
    "lease_lost, crashed, sandbox_unavailable: no grade written, the job is retried)",
    ["outcome"],
)
GRADING_TIME = Histogram(
    "holdout_grading_duration_seconds",
    "Time from claiming a grading job to writing its result",
    buckets=GRADING_BUCKETS,
)
GRADING_LAG = Histogram(
    "holdout_grading_lag_seconds",
    "Time from a code submission to its grade (queueing included)",
    buckets=GRADING_BUCKETS,
)
DELIVERY_FAILURES = Counter(
    "holdout_delivery_failures",
    "Failed tries to deliver to an outside system (webhook, lti), and whether it was the last",
    ["kind", "final"],
)


def delivery_failed(kind: str, final: bool) -> None:
    DELIVERY_FAILURES.labels(kind=kind, final=str(final).lower()).inc()


def job_finished(outcome: str, seconds: float, lag_seconds: float | None = None) -> None:
    JOBS.labels(outcome=outcome).inc()
    GRADING_TIME.observe(seconds)
    if lag_seconds is not None:
        GRADING_LAG.observe(max(0.0, lag_seconds))


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time (the database is the truth, whichever
    process grades): submissions by status, and how long the oldest queued one has waited."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy import func, select

        from service.models import Submission, SubmissionStatus, db, utcnow

        counts = dict(
            db.session.execute(
                select(Submission.status, func.count()).group_by(Submission.status)
            ).all()
        )
        by_status = GaugeMetricFamily(
            "holdout_submissions", "Submissions by status", labels=["status"]
        )
        for status in SubmissionStatus:
            by_status.add_metric([status.value], counts.get(status, 0))
        yield by_status
        yield GaugeMetricFamily(
            "holdout_queue_depth",
            "Code submissions waiting for a grader (queued) or being graded (running)",
            value=counts.get(SubmissionStatus.QUEUED, 0) + counts.get(SubmissionStatus.RUNNING, 0),
        )
        oldest = db.session.scalar(
            select(func.min(Submission.created_at)).where(
                Submission.status == SubmissionStatus.QUEUED
            )
        )
        db.session.rollback()
        age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "holdout_oldest_queued_seconds",
            "How long the oldest queued submission has waited (0 when none waits)",
            value=max(0.0, age),
        )


def exposition() -> Response:
    """Every process's samples (summed under gunicorn) plus the database gauges."""
    registry: Any
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessMetrics())
    registry.register(DatabaseCollector())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class _ProcessMetrics(Collector):
    """This process's own metrics (the default registry), when there is no multiprocess folder."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def install(app: Flask) -> None:
    """Count and time every request, labelled by its route (never the raw path: bounded)."""

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        rule = request.url_rule
        endpoint = rule.rule if rule is not None else "(unmatched)"
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        if started is not None:
            LATENCY.labels(endpoint).observe(time.perf_counter() - started)
        return response


def worker_exited(pid: int) -> None:
    """gunicorn's child_exit: drop the dead worker's live gauges (its counters stay summed)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)
