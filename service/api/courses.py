"""Courses and their gradebooks."""

from __future__ import annotations

from typing import Any

from flask import Response
from sqlalchemy import select

from service import access
from service.access import Need
from service.api.common import BEARER, Blueprint, course_or_404, paginate
from service.auth import require
from service.errors import Problem
from service.gradebook import Gradebook, course_gradebook, gradebook_csv
from service.models import Course, Role, db
from service.schemas import (
    CourseCreateSchema,
    CourseSchema,
    GradebookSchema,
    PageArgs,
    page_of,
)

blp = Blueprint("courses", __name__, url_prefix="/api/v1", description="Courses and gradebooks")


@blp.route("/courses")
@require()
@blp.doc(security=BEARER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(CourseSchema))
def list_courses(args: dict[str, Any]) -> dict[str, Any]:
    """The courses the caller may see, by slug."""
    return paginate(access.query(Course).order_by(Course.slug), args)


@blp.route("/courses", methods=["POST"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.arguments(CourseCreateSchema)
@blp.response(201, CourseSchema)
def create_course(body: dict[str, Any]) -> Course:
    """Create a course (site administrators and site-wide instructors)."""
    access.require_site(Need.TEACH)
    if db.session.scalar(select(Course.id).where(Course.slug == body["slug"])) is not None:
        raise Problem(409, f"A course '{body['slug']}' already exists.")
    course = Course(slug=body["slug"], title=body["title"])
    db.session.add(course)
    db.session.commit()
    return course


@blp.route("/courses/<slug>")
@require()
@blp.doc(security=BEARER)
@blp.response(200, CourseSchema)
def get_course(slug: str) -> Course:
    """One course."""
    return course_or_404(slug)


@blp.route("/courses/<slug>/gradebook")
@require()
@blp.doc(security=BEARER)
@blp.response(200, GradebookSchema)
def gradebook(slug: str) -> Gradebook:
    """Per student: each quiz's counted score, each question's best score and the total
    (the course's staff, lms tokens)."""
    course = course_or_404(slug, Need.STAFF)
    return course_gradebook(course)


@blp.route("/courses/<slug>/gradebook.csv")
@require()
@blp.doc(
    security=BEARER,
    responses={
        "200": {
            "description": "One row per student",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def gradebook_export(slug: str) -> Response:
    """The gradebook as CSV for a spreadsheet: a row per student, a column per quiz and question."""
    course = course_or_404(slug, Need.STAFF)
    return Response(
        gradebook_csv(course_gradebook(course)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{slug}-gradebook.csv"'},
    )
