"""Loading the question bank into the database. The bundled bank seeds a database; it does not
own it: `bank load` creates what is missing and updates only what it created itself and nobody
has edited since. An item an instructor created or changed through the API is left as it is
(and reported), unless `--force`, which says what it overwrote. Every write is a revision."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from question_bank.loader import Bank
from service.models import Question, Quiz, db
from service.questions import find_question, save_question
from service.quizzes import save_quiz
from service.revisions import record


@dataclass
class LoadSummary:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    # Left alone: (slug, why). With force: overwritten, and why it would have been kept.
    kept: list[tuple[str, str]] = field(default_factory=list)
    overwritten: list[tuple[str, str]] = field(default_factory=list)
    quizzes: int = 0

    @property
    def created_or_changed(self) -> list[str]:
        """The questions written (created, updated or overwritten)."""
        labels = [*self.created, *self.updated, *(label for label, _ in self.overwritten)]
        return [label for label in labels if label.startswith("question ")]


def fingerprint(fields: dict[str, Any]) -> str:
    """What the bank says about an item, as a hash: equal hashes, nothing to load."""
    text = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _why_kept(item: Question | Quiz) -> str | None:
    """Why the bank may not write over this item (None: it may)."""
    if item.bank_fingerprint is None:
        return "not created by the bank (made through the API, an import, or before tracking)"
    if item.edited_at is not None:
        return f"edited through the API at {item.edited_at.isoformat(timespec='seconds')}"
    return None


def _load_one(
    kind: str,
    fields: dict[str, Any],
    existing: Question | Quiz | None,
    force: bool,
    summary: LoadSummary,
) -> None:
    slug = fields["slug"]
    label = f"{kind} {slug}"
    wanted = fingerprint(fields)
    reason = _why_kept(existing) if existing is not None else None
    if existing is not None and reason is None and existing.bank_fingerprint == wanted:
        if kind == "question":
            summary.unchanged += 1
        return
    if reason is not None and not force:
        summary.kept.append((label, reason))
        return
    item: Question | Quiz
    if kind == "question":
        item, _ = save_question(dict(fields))
    else:
        item = save_quiz(dict(fields))
    item.bank_fingerprint = wanted
    item.edited_at = None
    record(item, "bank")
    if existing is None:
        summary.created.append(label)
    elif reason is not None:
        summary.overwritten.append((label, reason))
    else:
        summary.updated.append(label)


def load_bank_into_db(
    bank: Bank, exercise_questions: list[dict[str, object]], force: bool = False
) -> LoadSummary:
    """Load every question, then every quiz, by the rules above. The caller commits (or rolls
    back: a dry run)."""
    summary = LoadSummary()
    for fields in [*bank.questions, *exercise_questions]:
        existing = find_question(str(fields["slug"]), include_archived=True)
        _load_one("question", dict(fields), existing, force, summary)
    db.session.flush()
    for quiz in bank.quizzes:
        existing_quiz = db.session.scalar(select(Quiz).where(Quiz.slug == quiz["slug"]))
        _load_one("quiz", quiz, existing_quiz, force, summary)
        summary.quizzes += 1
    return summary
