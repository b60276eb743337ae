"""Names and Role Provisioning Services (NRPS 2.0): a course's roster, pulled from the LMS.

The launch's `namesroleservice` claim gives the context's memberships URL (the latest launch
wins). A sync fetches every page of it (Link rel="next"), with an access token of the NRPS scope
(client credentials, as for grades), through service.outbound, each page capped in size and the
whole roster in pages and members. Each member becomes (or stays) a holdout user, enrolled in the
course with the role their LMS roles give (the launch's mapping: service.lti.launch), so the
gradebook lists students who have not launched yet. A member missing from a complete sync, or
marked Deleted, is marked gone (`gone_at`), never deleted: their work and grades stay.

Syncs run on demand (API, `holdout lti roster sync`) and daily (a background task that claims
each context it syncs, so several processes never sync one context at once).
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import or_, select, update

from service import background
from service.auth import make_member
from service.lti.launch import ROLES, clean_text, course_role_of, lti_user, role_of, valid_id
from service.lti.models import LtiContext, LtiMembership, LtiUser
from service.lti.platforms import PlatformError, http_json_answer, token_cache
from service.models import db, rows_changed, utcnow

log = logging.getLogger("holdout.lti")
SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
STATUSES = ("Active", "Inactive", "Deleted")
# A roster page is larger than a token answer, but bounded; so is a whole roster.
MAX_PAGE_BYTES = 4 * 1024 * 1024
MAX_PAGES = 200
MAX_MEMBERS = 50_000
MAX_ROLES = 50
SYNC_EVERY = timedelta(hours=24)
RETRY_AFTER_FAILURE = timedelta(hours=1)
TASK_SECONDS = 600.0
_NEXT = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")


class RosterError(Exception):
    """The roster could not be fetched, or the platform answered something unusable."""


@dataclass
class RosterSync:
    context: str
    members: int = 0
    enrolled: int = 0  # memberships created by this sync
    gone: int = 0  # marked gone by this sync
    skipped: int = 0  # entries without a usable user_id
    pages: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def next_link(header: str | None) -> str | None:
    """The URL of `rel="next"` in a Link header (RFC 8288), if any."""
    for url, params in _NEXT.findall(header or ""):
        rels = re.findall(r';\s*rel\s*=\s*"?([^";]+)"?', params)
        if any("next" in rel.split() for rel in rels):
            return url.strip()
    return None


def fetch_members(context: LtiContext) -> tuple[list[dict[str, Any]], int]:
    """Every member of the context's roster, and how many pages that took."""
    url = context.memberships_url
    if not url:
        raise RosterError("the LMS has not offered this course's roster (no NRPS claim yet)")
    platform = context.platform
    members: list[dict[str, Any]] = []
    seen_urls: set[str] = set()
    pages = 0
    next_url: str | None = url
    while next_url:
        if next_url in seen_urls:
            raise RosterError("the roster's pages link back to a page already read")
        if pages >= MAX_PAGES:
            raise RosterError(f"the roster has more than {MAX_PAGES} pages")
        seen_urls.add(next_url)
        try:
            token = token_cache.get(platform, [SCOPE])
            status, body, headers = http_json_answer(
                next_url,
                headers={"Authorization": "Bearer " + token, "Accept": MEDIA_TYPE},
                max_bytes=MAX_PAGE_BYTES,
            )
        except PlatformError as exc:
            raise RosterError(str(exc)) from exc
        if status == 401:
            token_cache.forget(platform)
        if status != 200:
            raise RosterError(f"the roster at {next_url} answered HTTP {status}")
        if not isinstance(body, dict) or not isinstance(body.get("members"), list):
            raise RosterError(f"the roster at {next_url} is not a membership container")
        found = body.get("context")
        if isinstance(found, dict) and "id" in found and str(found["id"]) != context.context_id:
            raise RosterError(
                f"the roster is of context {str(found['id'])[:80]!r}, not {context.context_id!r}"
            )
        members.extend(m for m in body["members"] if isinstance(m, dict))
        if len(members) > MAX_MEMBERS:
            raise RosterError(f"the roster has more than {MAX_MEMBERS} members")
        pages += 1
        next_url = next_link(headers.get("link"))
    return members, pages


def sync_roster(context: LtiContext) -> RosterSync:
    """Fetch the roster and apply it (the caller commits; on RosterError nothing was changed)."""
    members, pages = fetch_members(context)
    result = RosterSync(context=context.context_id, pages=pages)
    now = utcnow()
    present: set[int] = set()
    existing = {
        m.lti_user_id: m
        for m in db.session.scalars(
            select(LtiMembership).where(LtiMembership.context_id == context.id)
        )
    }
    for member in members:
        # The launch's rule for an id: one that does not fit is skipped, never cut (a cut id
        # could be another person's, or differ from the same person's launches).
        sub = valid_id(member.get("user_id"))
        if sub is None:
            result.skipped += 1
            log.warning(
                "roster member skipped",
                extra={
                    "event": "lti.roster_member_skipped",
                    "context": context.id,
                    "user_id": clean_text(member.get("user_id"), 80),
                },
            )
            continue
        given = member.get("roles")
        roles = (
            [r for r in given if isinstance(r, str) and valid_id(r, 500)][:MAX_ROLES]
            if isinstance(given, list)
            else []
        )
        claims: dict[str, Any] = {
            "sub": sub,
            ROLES: roles,
            **{k: member[k] for k in ("name", "given_name", "family_name", "email") if k in member},
        }
        user = lti_user(context.platform, claims)
        row = db.session.scalar(
            select(LtiUser).where(
                LtiUser.platform_id == context.platform_id,
                LtiUser.sub == sub,
                LtiUser.role == role_of(claims),
            )
        )
        assert row is not None
        status = member.get("status") if member.get("status") in STATUSES else "Active"
        membership = existing.get(row.id)
        if membership is None:
            membership = LtiMembership(context_id=context.id, lti_user_id=row.id)
            db.session.add(membership)
            existing[row.id] = membership
            result.enrolled += 1
        membership.roles = roles
        membership.status = str(status)
        membership.synced_at = now
        if status == "Deleted":
            if membership.gone_at is None:
                membership.gone_at = now
                result.gone += 1
            continue
        present.add(row.id)
        membership.gone_at = None
        make_member(user, context.course, course_role_of(claims))
        result.members += 1
    for lti_user_id, membership in existing.items():
        if lti_user_id not in present and membership.gone_at is None:
            membership.gone_at = now
            result.gone += 1
    context.roster_synced_at = now
    context.roster_error = None
    db.session.flush()
    log.info("roster synced", extra={"context": context.id, **result.as_dict()})
    return result


def sync_and_commit(context: LtiContext) -> RosterSync:
    """sync_roster, committed; a failure is recorded on the context and raised."""
    context_id = context.id
    try:
        result = sync_roster(context)
    except RosterError as exc:
        db.session.rollback()
        rows_changed(
            update(LtiContext)
            .where(LtiContext.id == context_id)
            .values(roster_error=str(exc)[:500])
        )
        db.session.commit()
        log.warning("roster sync failed", extra={"context": context_id, "error": str(exc)})
        raise
    db.session.commit()
    return result


def course_contexts(course_id: int) -> list[LtiContext]:
    return list(
        db.session.scalars(
            select(LtiContext).where(LtiContext.course_id == course_id).order_by(LtiContext.id)
        )
    )


def sync_due(limit: int = 5) -> int:
    """The daily sync (a background task): rosters not synced for a day, each claimed first."""
    now = utcnow()
    due = db.session.scalars(
        select(LtiContext.id)
        .where(
            LtiContext.memberships_url.is_not(None),
            or_(LtiContext.roster_due_at.is_(None), LtiContext.roster_due_at < now),
        )
        .order_by(LtiContext.id)
        .limit(limit)
    ).all()
    done = 0
    for context_id in due:
        claimed = rows_changed(
            update(LtiContext)
            .where(
                LtiContext.id == context_id,
                or_(LtiContext.roster_due_at.is_(None), LtiContext.roster_due_at < now),
            )
            .values(roster_due_at=now + SYNC_EVERY)
        )
        db.session.commit()
        if claimed != 1:
            continue
        context = db.session.get(LtiContext, context_id)
        if context is None:
            continue
        done += 1
        try:
            sync_and_commit(context)
        except RosterError:
            rows_changed(
                update(LtiContext)
                .where(LtiContext.id == context_id)
                .values(roster_due_at=now + RETRY_AFTER_FAILURE)
            )
            db.session.commit()
    return done


def listen(app: Flask) -> None:
    """The daily roster sync (called by init_lti)."""
    background.register(app, "lti-rosters", TASK_SECONDS, sync_due)
