"""What every endpoint shares: pagination, lookups that answer 404, and the security doc."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select

from service.auth import current_user
from service.errors import Problem
from service.models import Course, Quiz, Role, db

T = TypeVar("T")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def paginate(query: Select[Any], args: dict[str, Any]) -> dict[str, Any]:
    page, size = args["page"], args["page_size"]
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(size).offset((page - 1) * size)).all()
    return {
        "items": items,
        "page": page,
        "page_size": size,
        "total": total or 0,
        "pages": -(-(total or 0) // size),
    }


def course_or_404(slug: str) -> Course:
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        raise Problem(404, f"No course '{slug}'.")
    return course


def quiz_or_404(slug: str) -> Quiz:
    quiz = db.session.scalar(select(Quiz).where(Quiz.slug == slug))
    if quiz is None:
        raise Problem(404, f"No quiz '{slug}'.")
    return quiz


def is_staff() -> bool:
    return current_user().role in (Role.INSTRUCTOR, Role.LMS)


def check_course_scope(course_id: int) -> None:
    """An lms token limited to one course sees nothing of the others."""
    from service.auth import current_token

    token = current_token()
    if token.course_id is not None and token.course_id != course_id:
        raise Problem(403, "This token is limited to another course.")
