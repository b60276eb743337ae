"""Questions in and out in other systems' formats: Moodle XML, GIFT, QTI (question_bank.interop)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response
from sqlalchemy import select

from question_bank.interop.base import Slugs
from question_bank.interop.formats import export_questions, exportable, import_data
from question_bank.types import QUICK_TYPES
from service import access
from service.api.common import BEARER, Blueprint
from service.auth import current_user, require
from service.errors import Problem
from service.imports import load_result
from service.models import Question, Role, db
from service.revisions import question_fields
from service.schemas import ExportArgs, ImportFileSchema, ImportFormSchema, ImportReportSchema

blp = Blueprint(
    "interop", __name__, url_prefix="/api/v1", description="Import and export of questions"
)
F = TypeVar("F", bound=Callable[..., Any])
EXPORT_TYPES = {"moodle-xml": ("application/xml", "xml"), "qti": ("application/zip", "zip")}


def authors_only(view: F) -> F:
    """Refuse (403) a caller who authors no questions before the upload is read (a course's
    teaching assistant may export its keys, not import)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        access.authoring_course()
        return view(*args, **kwargs)

    return cast(F, wrapper)


@blp.route("/questions/import", methods=["POST"])
@require(Role.INSTRUCTOR)
@authors_only
@blp.doc(security=BEARER)
@blp.arguments(ImportFormSchema, location="form")
@blp.arguments(ImportFileSchema, location="files")
@blp.response(200, ImportReportSchema)
def import_questions(form: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
    """Import the questions of one Moodle XML, GIFT or QTI file (multipart field `file`; a QTI
    content package is a zip). Each question is imported whole, with its answer key, or refused
    with the reason; they belong to the caller's course (a site-wide instructor's: the shared
    bank). An unreadable file, or one of no known format, is a 422 and imports nothing."""
    course_id = access.authoring_course()
    upload = files["file"]
    data = upload.read()
    name = upload.filename or "upload"
    result = import_data(data, name, form["format"], Slugs())
    if result.error is not None:
        raise Problem(422, result.error)
    load_result(result, course_id, current_user())
    return {"files": [result.to_dict()]}


@blp.route("/questions/export")
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.arguments(ExportArgs, location="query")
@blp.response(
    200,
    description="Moodle XML (application/xml) or a QTI 2.1 content package (application/zip)",
)
def export_quick_questions(args: dict[str, Any]) -> Response:
    """The quick questions whose answer keys the caller sees, as Moodle XML or a QTI package
    (holdout imports them back as they are)."""
    query = (
        select(Question)
        .where(
            Question.archived_at.is_(None),
            Question.type.in_(QUICK_TYPES),
            access.scoped(Question),
        )
        .order_by(Question.slug)
    )
    questions = [
        question_fields(q) for q in db.session.scalars(query) if access.sees_answer_keys(q)
    ]
    fmt = args["format"]
    mimetype, extension = EXPORT_TYPES[fmt]
    kept, skipped = exportable(questions, fmt)
    return Response(
        export_questions(kept, fmt),
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="questions.{extension}"',
            # Questions with variants are not written (see question_bank.interop.formats).
            "X-Holdout-Skipped": ", ".join(s.name for s in skipped),
        },
    )
