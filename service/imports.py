"""Imported questions into the database (`holdout bank import --load`, POST /questions/import).

One transaction per file: every question of the file that was read whole is written, each in its
own savepoint, and the file is committed once. A question is all or nothing: one the database
refuses (its slug belongs to a question that no import made, or to another course) is rolled
back to its savepoint and reported as refused, and the rest of the file goes in. An import
updates only what an import wrote before (the latest revision's source is "import"), so it never
overwrites a question an instructor wrote or `bank load` seeded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from question_bank.interop.base import FileResult, Refused
from service.models import ItemRevision, Question, User, db
from service.questions import find_question, save_question
from service.revisions import record

SOURCE = "import"


def _last_source(question: Question) -> str | None:
    return db.session.scalar(
        select(ItemRevision.source)
        .where(ItemRevision.kind == "question", ItemRevision.item_id == question.id)
        .order_by(ItemRevision.number.desc())
        .limit(1)
    )


def _why_not(existing: Question, course_id: int | None) -> str | None:
    if _last_source(existing) != SOURCE:
        return (
            f"the slug {existing.slug!r} belongs to a question that no import made; "
            "delete or rename that question, or give this one another id"
        )
    if existing.course_id != course_id:
        return f"the slug {existing.slug!r} belongs to a question of another course"
    return None


def load_result(result: FileResult, course_id: int | None, author: User | None) -> FileResult:
    """Write the file's questions (savepoint each) and commit; move refused ones to `refused`."""
    written: list[dict[str, Any]] = []
    for fields in result.questions:
        existing = find_question(fields["slug"], include_archived=True)
        reason = _why_not(existing, course_id) if existing is not None else None
        if reason is not None:
            result.refused.append(Refused(fields["title"], reason))
            continue
        savepoint = db.session.begin_nested()
        try:
            question, _ = save_question(dict(fields))
            question.course_id = course_id
            record(question, SOURCE, author)
            savepoint.commit()
        except Exception as exc:  # the database refused this one question: keep the others
            savepoint.rollback()
            result.refused.append(
                Refused(fields["title"], f"the database refused it: {type(exc).__name__}")
            )
            continue
        written.append(fields)
    db.session.commit()
    result.questions = written
    return result
