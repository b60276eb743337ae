"""Loading the question bank into the database: an idempotent upsert by slug."""

from __future__ import annotations

from dataclasses import dataclass, field

from question_bank.loader import Bank
from service.questions import save_question
from service.quizzes import save_quiz


@dataclass
class LoadSummary:
    created_or_changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    quizzes: int = 0


def load_bank_into_db(bank: Bank, exercise_questions: list[dict[str, object]]) -> LoadSummary:
    """Upsert every question, then every quiz. The caller commits (or rolls back on error)."""
    summary = LoadSummary()
    for fields in [*bank.questions, *exercise_questions]:
        question, changed = save_question(dict(fields))
        if changed:
            summary.created_or_changed.append(question.slug)
        else:
            summary.unchanged += 1
    for quiz in bank.quizzes:
        save_quiz(quiz)
        summary.quizzes += 1
    return summary
