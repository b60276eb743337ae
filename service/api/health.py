"""Liveness, readiness and metrics, for load balancers and operators.

`/healthz` and the verdict of `/readyz` are public (a load balancer needs them); the details of
`/readyz` (which dependency, what error, the sandbox's layers) and `/metrics` are for operators:
a bearer token equal to HOLDOUT_METRICS_TOKEN, or a direct connection from this machine (a
loopback address and no proxy's forwarding header, so nothing that came through nginx).
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from flask import Response, current_app, request
from marshmallow import Schema, fields
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from service import metrics
from service.api.common import Blueprint
from service.errors import Problem
from service.models import db

# Headers a reverse proxy adds: a request that carries one did not come from this machine.
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadySchema(Schema):
    status = fields.String(required=True, metadata={"description": "ready or unavailable"})
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(),
        metadata={
            "description": "One entry per dependency: database, broker, sandbox. Only for "
            "operators (HOLDOUT_METRICS_TOKEN, or a direct connection from this machine)"
        },
    )


@blp.route("/healthz")
@blp.response(200, HealthSchema)
def healthz() -> dict[str, str]:
    """200 while the process is up."""
    return {"status": "ok"}


def _check_database() -> dict[str, Any]:
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True, "dialect": db.engine.dialect.name}
    except Exception as exc:  # any driver error means "not ready"; the detail says which
        db.session.rollback()
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


@blp.route("/readyz")
@blp.response(200, ReadySchema)
@blp.alt_response(503, schema=ReadySchema, description="A dependency does not answer")
def readyz() -> tuple[dict[str, Any], int]:
    """200 when the database (and, if configured, the broker) answer. The details of each
    check only for operators (a bearer HOLDOUT_METRICS_TOKEN, or from this machine)."""
    checks: dict[str, dict[str, Any]] = {"database": _check_database()}
    for name, probe in current_app.extensions.get("holdout_ready_checks", {}).items():
        checks[name] = probe()
    ok = all(c["ok"] for c in checks.values())
    body: dict[str, Any] = {"status": "ready" if ok else "unavailable"}
    if operator_access():
        body["checks"] = checks
    return body, (200 if ok else 503)


@blp.route("/metrics", endpoint="metrics")
@blp.response(
    200,
    description="Prometheus text format: requests, latency, queue depth, jobs, grading time, "
    "delivery failures",
    content_type=CONTENT_TYPE_LATEST,
)
@blp.alt_response(401, description="Needs a bearer HOLDOUT_METRICS_TOKEN (or this machine)")
def metrics_endpoint() -> Response:
    """Operator metrics for Prometheus; a bearer HOLDOUT_METRICS_TOKEN, or from this machine."""
    if not operator_access():
        raise Problem(
            401,
            "Metrics need 'Authorization: Bearer <HOLDOUT_METRICS_TOKEN>' (or a direct "
            "connection from this machine).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return metrics.exposition()


def operator_access() -> bool:
    token = current_app.config["HOLDOUT_SETTINGS"].metrics_token
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer":
        return hmac.compare_digest(given.strip().encode(), token.encode())
    if any(header in request.headers for header in FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
