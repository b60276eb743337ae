"""Every saved state of a question or quiz (an instructor's edit, a `bank load`, a restore), so
an edit can be looked at and put back. A restore is itself a new revision: nothing is lost."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from service.models import ItemRevision, Question, Quiz, User, db, utcnow
from service.questions import EDITABLE
from service.quizzes import quiz_fields


def question_fields(question: Question) -> dict[str, Any]:
    return {
        "slug": question.slug,
        **{name: getattr(question, name) for name in EDITABLE},
        "data": question.data,
    }


def fields_of(item: Question | Quiz) -> dict[str, Any]:
    return question_fields(item) if isinstance(item, Question) else quiz_fields(item)


def kind_of(item: Question | Quiz) -> str:
    return "question" if isinstance(item, Question) else "quiz"


def record(item: Question | Quiz, source: str, author: User | None = None) -> ItemRevision:
    """Keep the item's current state as its next revision. An instructor's edit (source "api"
    or "restore") also marks it edited, so `bank load` leaves it alone."""
    db.session.flush()
    kind = kind_of(item)
    number = (
        db.session.scalar(
            select(func.max(ItemRevision.number)).where(
                ItemRevision.kind == kind, ItemRevision.item_id == item.id
            )
        )
        or 0
    ) + 1
    revision = ItemRevision(
        kind=kind,
        item_id=item.id,
        number=number,
        fields=fields_of(item),
        source=source,
        author_id=author.id if author else None,
    )
    db.session.add(revision)
    if source != "bank":
        item.edited_at = utcnow()
    return revision


def revisions(item: Question | Quiz) -> list[ItemRevision]:
    return list(
        db.session.scalars(
            select(ItemRevision)
            .where(ItemRevision.kind == kind_of(item), ItemRevision.item_id == item.id)
            .order_by(ItemRevision.number)
        )
    )


def revision(item: Question | Quiz, number: int) -> ItemRevision | None:
    return db.session.scalar(
        select(ItemRevision).where(
            ItemRevision.kind == kind_of(item),
            ItemRevision.item_id == item.id,
            ItemRevision.number == number,
        )
    )
