"""LTI 1.3 (LTI Advantage) tool: launches from an LMS, Deep Linking, and grade passback (AGS)."""

from __future__ import annotations

from typing import Any

from flask import Flask


def init_lti(app: Flask, api: Any) -> None:
    """Register the LTI endpoints, and grade passback's listeners and periodic work (called by
    create_app)."""
    from service.gradebook import register_linked_items
    from service.lti import ags, views
    from service.lti import api as lti_api
    from service.lti import models as _lti_models  # noqa: F401 - tables for Alembic

    app.register_blueprint(views.bp)
    api.register_blueprint(lti_api.blp)
    ags.listen(app)
    register_linked_items(ags.course_links)  # the LMS's links: items of the course's gradebook
