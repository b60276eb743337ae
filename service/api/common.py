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
from service import access
from service.access import Need
from service.errors import Problem
from service.models import Course, Quiz, db
from service.schemas import MAX_ID

T = TypeVar("T")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _lone_surrogate(value: Any) -> bool:
    """Text no database can store (PostgreSQL refuses it) and no page can encode."""
    if isinstance(value, str):
        return any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


class JsonParser(FlaskParser):
    """webargs' parser, also answering 400 for JSON that json.loads rejects with a plain
    ValueError rather than a JSONDecodeError (an integer of more than 4300 digits), or cannot
    parse at all (nesting deeper than the interpreter's recursion limit), and 422 for text
    holding a lone UTF-16 surrogate (the JSON escape backslash-ud800, say)."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        try:
            data = super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as exc:
            detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            return self._handle_invalid_json_error(json.JSONDecodeError(detail, "", 0), req)
        try:
            unstorable = _lone_surrogate(data)
        except RecursionError:
            unstorable = True
        if unstorable:
            raise Problem(422, "Text may not contain lone surrogates (such as \\ud800).")
        return data


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


def course_or_404(slug: str, need: Need = Need.VIEW) -> Course:
    """The course with this slug, if the caller may see it (404) and has the need (403)."""
    if not re.fullmatch(SLUG_PATTERN, slug):  # else it names nothing (and may hold a NUL)
        raise Problem(404, f"No course '{slug}'.")
    return access.find(select(Course).where(Course.slug == slug), need, f"No course '{slug}'.")


def quiz_or_404(slug: str, need: Need = Need.VIEW) -> Quiz:
    if not re.fullmatch(SLUG_PATTERN, slug):  # else it names nothing (and may hold a NUL)
        raise Problem(404, f"No quiz '{slug}'.")
    return access.find(select(Quiz).where(Quiz.slug == slug), need, f"No quiz '{slug}'.")
