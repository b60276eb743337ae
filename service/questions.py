"""Creating and changing questions, with a new version whenever what they grade against changes."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from question_bank.types import SLUG_PATTERN, grading_identity
from service.models import Question, QuestionVersion, db, utcnow

EDITABLE = ("type", "title", "prompt", "explanation", "points", "tags")


def find_question(slug: str, include_archived: bool = False) -> Question | None:
    if not re.fullmatch(SLUG_PATTERN, slug):
        return None  # no question has such a slug, and the database may refuse the text (NUL)
    query = select(Question).where(Question.slug == slug)
    if not include_archived:
        query = query.where(Question.archived_at.is_(None))
    return db.session.scalar(query)


def save_question(fields: dict[str, Any]) -> tuple[Question, bool]:
    """Insert or update by slug (also bringing back an archived one); return (question, changed).

    A new version is recorded only when the grading changes (answer key, tests, reference or
    points), so fixing a typo in a prompt leaves every submission's version as it was.
    """
    question = find_question(fields["slug"], include_archived=True)
    if question is None:
        question = Question(slug=fields["slug"], data=fields["data"], version=1)
        for name in EDITABLE:
            setattr(question, name, fields[name])
        db.session.add(question)
        db.session.flush()
        _record_version(question)
        return question, True

    changed = question.archived_at is not None
    question.archived_at = None
    grading_changed = question.points != fields["points"] or grading_identity(
        question.type, question.data
    ) != grading_identity(fields["type"], fields["data"])
    for name in EDITABLE:
        if getattr(question, name) != fields[name]:
            setattr(question, name, fields[name])
            changed = True
    if question.data != fields["data"]:
        question.data = fields["data"]
        changed = True
    if grading_changed:
        question.version += 1
        _record_version(question)
        changed = True
    if changed:
        question.updated_at = utcnow()
    return question, changed


def _record_version(question: Question) -> None:
    db.session.add(
        QuestionVersion(
            question=question,
            version=question.version,
            points=question.points,
            data=question.data,
        )
    )


def archive_question(question: Question) -> None:
    question.archived_at = utcnow()
