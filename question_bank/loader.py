"""Read a question bank folder into plain, validated data (no Flask, no database)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from question_bank.types import (
    QUESTION_TYPES,
    SLUG_PATTERN,
    TAG_PATTERN,
    consistency_problems,
    validate_data,
)

BUNDLED_DIR = Path(__file__).resolve().parent / "content"
COMMON_FIELDS = ("slug", "type", "title", "prompt", "explanation", "points", "tags")


class QuestionCommon(Schema):
    """Fields every question has, whatever its type."""

    class Meta:
        unknown = RAISE

    slug = fields.String(required=True, validate=validate.Regexp(SLUG_PATTERN))
    type = fields.String(required=True, validate=validate.OneOf(QUESTION_TYPES))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    prompt = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    explanation = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    points = fields.Float(
        load_default=1.0, validate=validate.Range(min=0, min_inclusive=False, max=1000)
    )
    tags = fields.List(
        fields.String(validate=validate.Regexp(TAG_PATTERN)),
        load_default=list,
        validate=validate.Length(max=20),
    )


REVIEW_TIMES = ("immediately", "after_submit", "after_due", "never")
# What each review time means (service.quizzes.review_allows applies it).
REVIEW_TIME_HELP = (
    "immediately: also while the attempt is open; after_submit: once it is handed in; "
    "after_due: once it is handed in, the student's due date (or else the close) has passed "
    "and they can no longer earn marks on the quiz (no attempt open, and none left to start: "
    "the attempt limit reached or the quiz closed for them, extensions included; with "
    "neither a limit nor a close, never); never: not shown to students"
)


def _review_time() -> fields.String:
    """A review part's setting: when the student is shown it (REVIEW_TIME_HELP)."""
    return fields.String(
        load_default="after_submit",
        validate=validate.OneOf(REVIEW_TIMES),
        metadata={"description": REVIEW_TIME_HELP},
    )


class ReviewOptions(Schema):
    """When students see each part of an attempt's review (staff always see all of it)."""

    class Meta:
        unknown = RAISE

    score = _review_time()
    feedback = _review_time()
    correct_answer = _review_time()
    explanation = _review_time()


class Pool(Schema):
    """Each attempt draws `draw` questions from those tagged `tag` (all worth the same points)."""

    class Meta:
        unknown = RAISE

    tag = fields.String(required=True, validate=validate.Regexp(TAG_PATTERN))
    draw = fields.Integer(required=True, validate=validate.Range(1, 100))


class QuizFile(Schema):
    class Meta:
        unknown = RAISE

    slug = fields.String(required=True, validate=validate.Regexp(SLUG_PATTERN))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="")
    course = fields.String(load_default="default", validate=validate.Regexp(SLUG_PATTERN))
    attempt_limit = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(1, 1000)
    )
    time_limit_minutes = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(1, 10_000)
    )
    late_penalty = fields.Float(
        load_default=0.0,
        validate=validate.Range(0, 1),
        metadata={"description": "Fraction of the score lost by answers after due_at"},
    )
    cooldown_seconds = fields.Integer(
        load_default=0,
        validate=validate.Range(0, 86_400),
        metadata={"description": "Wait between two code submissions to one question"},
    )
    score_policy = fields.String(
        load_default="best",
        validate=validate.OneOf(["best", "latest"]),
        metadata={"description": "Which submitted attempt counts in the gradebook"},
    )
    questions = fields.List(
        fields.String(validate=validate.Regexp(SLUG_PATTERN)),
        required=True,
        validate=validate.Length(min=1),
    )
    practice = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Leave the questions open to answer on their own, even with a "
            "window or limits (otherwise such a quiz is an assessment)"
        },
    )
    review = fields.Nested(ReviewOptions, load_default=dict)
    shuffle_questions = fields.Boolean(
        load_default=False, metadata={"description": "A new question order for every attempt"}
    )
    pools = fields.List(fields.Nested(Pool), load_default=list, validate=validate.Length(max=20))


# What makes a quiz an assessment: a window, an attempt limit or a time limit, unless it is
# marked practice. While it is open for a student, an assessment seals its questions: they are
# answered only in its attempts, and no other quiz's review shows that student their score,
# feedback, key or explanation. service.quizzes.is_assessment asks the same of a quiz row.
ASSESSMENT_SETTINGS = ("opens_at", "closes_at", "attempt_limit", "time_limit_minutes")


def is_assessment(quiz: Mapping[str, Any]) -> bool:
    """Whether these quiz fields (a bank file's, or the API's) make an assessment."""
    return not quiz.get("practice") and any(quiz.get(name) for name in ASSESSMENT_SETTINGS)


@dataclass
class Bank:
    questions: list[dict[str, Any]] = field(default_factory=list)
    quizzes: list[dict[str, Any]] = field(default_factory=list)
    exercise_dirs: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def held_questions(quiz: Mapping[str, Any], questions: list[dict[str, Any]]) -> set[str]:
    """The slugs of the bank questions a quiz may show: those it lists, and those its pools draw
    from (every quick question of the bank carrying a pool's tag)."""
    tags = {pool["tag"] for pool in quiz.get("pools") or []}
    drawn = {q["slug"] for q in questions if tags & set(q.get("tags") or [])}
    return set(quiz["questions"]) | drawn


def sealing_problems(bank: Bank, paths: Mapping[str, Path]) -> list[str]:
    """An assessment of the bank sharing a question with another of its quizzes (`paths`: each
    quiz's file, by slug). While the assessment is open, the question's review is withheld in
    the other quiz too (a practice quiz would hide its key, explanation, feedback, score and total
    from every student, since the bank is loaded with site authority, whatever its course). So
    an assessment has questions of its own."""
    held = {quiz["slug"]: held_questions(quiz, bank.questions) for quiz in bank.quizzes}
    problems = []
    for quiz in bank.quizzes:
        if not is_assessment(quiz):
            continue
        for other in bank.quizzes:
            if other is quiz or (is_assessment(other) and other["slug"] < quiz["slug"]):
                continue  # two assessments: said once
            shared = sorted(held[quiz["slug"]] & held[other["slug"]])
            if shared:
                kind = (
                    "assessment"
                    if is_assessment(other)
                    else "practice quiz"
                    if other.get("practice")
                    else "quiz"
                )
                problems.append(
                    f"{paths[quiz['slug']]}: assessment {quiz['slug']!r} shares questions with "
                    f"{kind} {other['slug']!r} ({paths[other['slug']]}): {', '.join(shared)}. "
                    "While an assessment is open it seals its questions, and their review in "
                    "every other quiz is withheld from students: give the assessment questions "
                    "of its own."
                )
    return problems


def parse_question(raw: Any) -> dict[str, Any]:
    """One question from its file form (type fields inline) to {common fields…, data: {...}}."""
    if not isinstance(raw, dict):
        raise ValidationError("a question must be a mapping")
    common = {k: v for k, v in raw.items() if k in COMMON_FIELDS}
    rest = {k: v for k, v in raw.items() if k not in COMMON_FIELDS}
    question: dict[str, Any] = QuestionCommon().load(common)
    question["data"] = validate_data(question["type"], rest)
    problems = consistency_problems(
        question["slug"], question["type"], question["points"], question["data"], question["prompt"]
    )
    if problems:
        raise ValidationError({"data": problems})
    return question


def _format_error(exc: ValidationError) -> str:
    messages = exc.messages
    if isinstance(messages, dict):
        return "; ".join(f"{k}: {v}" for k, v in messages.items())
    return str(messages)


def _yaml_files(folder: Path) -> Iterator[Path]:
    yield from sorted(folder.glob("*.yaml")) if folder.is_dir() else iter(())


def _read_yaml(path: Path, bank: Bank) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        bank.problems.append(f"{path}: cannot read: {exc}")
        return None


def load_bank(root: Path = BUNDLED_DIR) -> Bank:
    """Read every question, quiz and exercise folder under root; collect problems, don't stop."""
    bank = Bank()
    if not root.is_dir():
        bank.problems.append(f"{root}: not a directory")
        return bank
    seen: dict[str, str] = {}

    def claim(slug: str, where: str) -> bool:
        if slug in seen:
            bank.problems.append(f"{where}: slug {slug!r} is already used in {seen[slug]}")
            return False
        seen[slug] = where
        return True

    for path in _yaml_files(root / "questions"):
        doc = _read_yaml(path, bank)
        if doc is None:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("questions"), list):
            bank.problems.append(f"{path}: expected a mapping with a list under 'questions'")
            continue
        for i, raw in enumerate(doc["questions"]):
            where = f"{path}: question {i + 1}"
            if isinstance(raw, dict) and isinstance(raw.get("slug"), str):
                where = f"{path}: {raw['slug']}"
            try:
                question = parse_question(raw)
            except ValidationError as exc:
                bank.problems.append(f"{where}: {_format_error(exc)}")
                continue
            if question["type"] == "code":
                bank.problems.append(f"{where}: code questions live in exercises/<slug>/")
                continue
            if claim(question["slug"], str(path)):
                bank.questions.append(question)

    exercises = root / "exercises"
    for folder in (
        sorted(p for p in exercises.iterdir() if p.is_dir()) if exercises.is_dir() else []
    ):
        if claim(folder.name, str(folder)):
            bank.exercise_dirs[folder.name] = folder

    quiz_files: dict[str, Path] = {}
    for path in _yaml_files(root / "quizzes"):
        doc = _read_yaml(path, bank)
        if doc is None:
            continue
        try:
            quiz = QuizFile().load(doc if isinstance(doc, dict) else {})
        except ValidationError as exc:
            bank.problems.append(f"{path}: {_format_error(exc)}")
            continue
        if quiz["slug"] in quiz_files:
            bank.problems.append(f"{path}: quiz slug {quiz['slug']!r} is used twice")
            continue
        missing = [s for s in quiz["questions"] if s not in seen]
        if missing:
            bank.problems.append(f"{path}: unknown question slugs {missing}")
            continue
        if len(set(quiz["questions"])) != len(quiz["questions"]):
            bank.problems.append(f"{path}: a question is listed twice")
            continue
        quiz_files[quiz["slug"]] = path
        bank.quizzes.append(quiz)
    bank.problems.extend(sealing_problems(bank, quiz_files))
    return bank
