"""Deep Linking 2.0: an instructor picks a quiz or an exercise in holdout, and holdout returns a
signed LtiDeepLinkingResponse that makes the platform create the link (and its grade column)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from service import access
from service.access import Need
from service.lti import keys
from service.lti.launch import DEEP_LINKING_REQUEST, DEPLOYMENT_ID, DL_SETTINGS, Launch
from service.lti.models import LtiPlatform
from service.models import Question, Quiz, db

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
RESPONSE_TYPE = "LtiDeepLinkingResponse"


@dataclass
class Choice:
    kind: str  # "question" or "quiz"
    slug: str
    title: str
    max_score: float
    detail: str


def settings_for_session(launch: Launch) -> dict[str, Any]:
    """What the response needs later, kept in the (signed) session while the instructor picks."""
    settings = launch.claims.get(DL_SETTINGS)
    if launch.message_type != DEEP_LINKING_REQUEST or not isinstance(settings, dict):
        raise ValueError("not a deep linking request")
    return {
        "platform_id": launch.platform.id,
        "deployment_id": launch.claims.get(DEPLOYMENT_ID),
        "return_url": settings.get("deep_link_return_url"),
        "data": settings.get("data"),
        "accept_types": settings.get("accept_types") or [],
    }


def choices() -> list[Choice]:
    """What the caller may link: the quizzes of the courses they teach (the launch's course, for
    an LMS instructor's session), and the code exercises they may see."""
    quizzes = access.query(Quiz, Need.TEACH).order_by(Quiz.title)
    exercises = (
        access.query(Question)
        .where(Question.type == "code", Question.archived_at.is_(None))
        .order_by(Question.title)
    )
    found = [
        Choice(
            "quiz",
            quiz.slug,
            quiz.title,
            sum(i.question.points for i in quiz.items),
            f"Quiz, {len(quiz.items)} questions",
        )
        for quiz in db.session.scalars(quizzes)
    ]
    found += [
        Choice("question", q.slug, q.title, q.points, "Code exercise")
        for q in db.session.scalars(exercises)
    ]
    return found


def find_choice(kind: str, slug: str) -> Choice | None:
    return next((c for c in choices() if c.kind == kind and c.slug == slug), None)


def content_item(choice: Choice, launch_url: str) -> dict[str, Any]:
    return {
        "type": "ltiResourceLink",
        "title": choice.title,
        "text": choice.detail,
        "url": launch_url,
        "custom": {choice.kind: choice.slug},
        "lineItem": {
            "scoreMaximum": choice.max_score,
            "label": choice.title,
            "resourceId": choice.slug,
            "tag": "holdout",
        },
    }


def response_jwt(
    platform: LtiPlatform, settings: dict[str, Any], items: list[dict[str, Any]]
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": platform.client_id,
        "aud": platform.issuer,
        "iat": now,
        "exp": now + 600,
        "nonce": secrets.token_urlsafe(16),
        "https://purl.imsglobal.org/spec/lti/claim/message_type": RESPONSE_TYPE,
        "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
        "https://purl.imsglobal.org/spec/lti/claim/deployment_id": settings["deployment_id"],
        DL + "content_items": items,
    }
    if settings.get("data") is not None:
        claims[DL + "data"] = settings["data"]
    return keys.sign(claims)
