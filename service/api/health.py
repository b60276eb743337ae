"""Liveness and readiness, for load balancers and operators."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, fields
from sqlalchemy import text

from service.api.common import Blueprint
from service.models import db

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadySchema(Schema):
    status = fields.String(required=True, metadata={"description": "ready or unavailable"})
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(),
        required=True,
        metadata={"description": "One entry per dependency: database, broker, sandbox"},
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
    """200 when the database (and, if configured, the broker) answer."""
    checks: dict[str, dict[str, Any]] = {"database": _check_database()}
    for name, probe in current_app.extensions.get("holdout_ready_checks", {}).items():
        checks[name] = probe()
    ok = all(c["ok"] for c in checks.values())
    return {"status": "ready" if ok else "unavailable", "checks": checks}, (200 if ok else 503)
