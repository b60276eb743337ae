"""LTI 1.3 (LTI Advantage) tool: launches from an LMS, Deep Linking, and grade passback (AGS)."""

from __future__ import annotations

from typing import Any

from flask import Flask


def linked_questions(course_ids: list[int]) -> Any:
    """Ids of the questions placed (as LTI resource links) in these courses' LMS courses."""
    from sqlalchemy import select

    from service.lti.models import LtiContext, LtiResourceLink
    from service.models import Question

    return (
        select(Question.id)
        .join(LtiResourceLink, LtiResourceLink.question_slug == Question.slug)
        .join(LtiContext, LtiContext.id == LtiResourceLink.context_id)
        .where(LtiContext.course_id.in_(course_ids))
    )


def init_lti(app: Flask, api: Any) -> None:
    """Register the LTI endpoints, and grade passback's listeners and periodic work (called by
    create_app)."""
    from service import access, auth
    from service.gradebook import register_linked_items
    from service.lti import ags, nrps, views
    from service.lti import api as lti_api
    from service.lti import models as _lti_models  # noqa: F401 - tables for Alembic
    from service.lti.launch import lms_provisioned

    if linked_questions not in access.QUESTION_SOURCES:
        access.QUESTION_SOURCES.append(linked_questions)
    if lms_provisioned not in auth.PROVISIONED_ELSEWHERE:
        auth.PROVISIONED_ELSEWHERE.append(lms_provisioned)
    app.register_blueprint(views.bp)
    api.register_blueprint(lti_api.blp)
    ags.listen(app)
    nrps.listen(app)  # the daily roster sync
    register_linked_items(ags.course_links)  # the LMS's links: items of the course's gradebook
