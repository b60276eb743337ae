"""What every endpoint shares: pagination, lookups that answer 404, and the security doc."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import flask
import flask_smorest
from sqlalchemy import Select, func, select
from webargs.flaskparser import FlaskParser

from question_bank.types import SLUG_PATTERN
from service.auth import current_user
from service.errors import Problem
from service.models import Course, Quiz, Role, db
from service.schemas import MAX_ID

T = TypeVar("T")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


class JsonParser(FlaskParser):
    """webargs' parser, also answering 400 for JSON that json.loads rejects with a plain
    ValueError rather than a JSONDecodeError (an integer of more than 4300 digits)."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except ValueError as exc:
            return self._handle_invalid_json_error(json.JSONDecodeError(str(exc), "", 0), req)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonParser()


def get_by_id(model: type[T], ident: int) -> T | None:
    """The row with this primary key, or None (also for an id too large for the column, which
    the driver would refuse with an error)."""
    if not 1 <= ident <= MAX_ID:
        return None
    return db.session.get(model, ident)


def paginate(query: Select[Any], args: dict[str, Any]) -> dict[str, Any]:
    page, size = args["page"], args["page_size"]
    # The page and the total in one query (a window count); past the last page there is no
    # row to carry the total, so only then is it counted apart.
    rows = db.session.execute(
        query.add_columns(func.count().over()).limit(size).offset((page - 1) * size)
    ).all()
    items = [row[0] for row in rows]
    if rows:
        total = rows[0][-1]
    elif page == 1:
        total = 0
    else:
        total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return {
        "items": items,
        "page": page,
        "page_size": size,
        "total": total or 0,
        "pages": -(-(total or 0) // size),
    }


def course_or_404(slug: str) -> Course:
    course = None
    if re.fullmatch(SLUG_PATTERN, slug):  # else it names nothing (and may hold a NUL)
        course = db.session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        raise Problem(404, f"No course '{slug}'.")
    return course


def quiz_or_404(slug: str) -> Quiz:
    quiz = None
    if re.fullmatch(SLUG_PATTERN, slug):  # else it names nothing (and may hold a NUL)
        quiz = db.session.scalar(select(Quiz).where(Quiz.slug == slug))
    if quiz is None:
        raise Problem(404, f"No quiz '{slug}'.")
    return quiz


def is_staff() -> bool:
    return current_user().role in (Role.INSTRUCTOR, Role.LMS)


def token_course_id() -> int | None:
    """The course an lms token is limited to, if any."""
    from service.auth import current_token

    return current_token().course_id


def check_course_scope(course_id: int) -> None:
    """An lms token limited to one course sees nothing of the others."""
    from service.auth import current_token

    token = current_token()
    if token.course_id is not None and token.course_id != course_id:
        raise Problem(403, "This token is limited to another course.")
