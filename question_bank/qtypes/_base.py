"""What a question type is: the one interface each type module implements, and the registry.

A type module defines one subclass of QuestionType, decorated with @register, and a template of
the same name beside it (`<name>.html`, macros `fields` and `shown`). Nothing else in holdout
names a type: the bank, the API, the pages and grading all ask the registry.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from marshmallow import RAISE, Schema, ValidationError, fields, validate

# Ids of choices, pairs, items and blanks: short, and safe in a form field's name.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,16}$"
MAX_TEXT_ANSWER = 1000
CORRECT = "Correct."


@dataclass(frozen=True)
class Verdict:
    """The score of one quick answer, as a fraction of the question's points, with feedback."""

    fraction: float
    feedback: str


class AnswerError(ValueError):
    """The answer does not have the shape this question type takes (a 422, not a wrong answer)."""


class Form(Protocol):
    """What a page's posted form offers (werkzeug's MultiDict), without importing Flask here."""

    def get(self, key: str) -> str | None: ...

    def getlist(self, key: str) -> list[str]: ...


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


def partial_fraction() -> fields.Float:
    """A partial answer's share of the points: strictly between 0 and 1 (1 is the key's, and a
    share of 0 or less is no partial credit)."""
    return fields.Float(
        required=True,
        allow_nan=False,
        validate=validate.Range(
            0, 1, min_inclusive=False, max_inclusive=False, error="must be between 0 and 1"
        ),
    )


def partial_meta(entry: type[Schema]) -> type[StrictSchema.Meta]:
    """A schema's Meta adding the optional list `partial` of `entry`s (answers worth part of the
    points). Declared through Meta.include because `partial` is also a Schema attribute. No
    default: data without it stays as it was, so loading it makes no new version."""

    class Meta(StrictSchema.Meta):
        include = {"partial": fields.List(fields.Nested(entry), validate=validate.Length(max=20))}

    return Meta


def id_field(**kwargs: Any) -> fields.String:
    return fields.String(required=True, validate=validate.Regexp(ID_PATTERN), **kwargs)


def unique_ids(items: list[dict[str, Any]], what: str, field: str) -> None:
    ids = [item["id"] for item in items]
    if len(ids) != len(set(ids)):
        raise ValidationError(f"{what} ids must be unique", field)


def finite_number(answer: Any) -> float:
    """A student's number, or AnswerError: JSON allows true, NaN-like and 400-digit numbers."""
    # bool is an int subclass, but "true" is not a number a student meant to give.
    if isinstance(answer, bool) or not isinstance(answer, int | float):
        raise AnswerError("answer must be a number")
    # An int beyond float's range is no more finite than 1e400.
    if isinstance(answer, int) and abs(answer) > sys.float_info.max:
        raise AnswerError("answer must be a finite number")
    if not math.isfinite(answer):
        raise AnswerError("answer must be a finite number")
    return answer


def bounded_text(answer: Any) -> str:
    if not isinstance(answer, str):
        raise AnswerError("answer must be a string")
    if len(answer) > MAX_TEXT_ANSWER:
        raise AnswerError(f"answer is longer than {MAX_TEXT_ANSWER} characters")
    return answer


def only_key(answer: Any, key: str, example: str) -> Any:
    """The value under the one key of an object answer such as {"order": [...]}."""
    if not isinstance(answer, dict) or set(answer) != {key}:
        raise AnswerError(f'answer must be an object {{"{key}": {example}}}')
    return answer[key]


def in_order(keys: list[str], order: list[str] | None) -> list[str]:
    """`keys` in a student's `order`; keys the order lacks (the question was edited since the
    order was drawn) come last, in the bank's order."""
    if not order:
        return list(keys)
    rank = {key: i for i, key in enumerate(order)}
    return sorted(keys, key=lambda key: rank.get(key, len(rank)))


def derange(keys: list[str], seed: str) -> list[str]:
    """A seeded shuffle of `keys` that is never `keys` itself (for two or more): the bank's
    order is the answer key of an ordering or matching question."""
    shuffled = list(keys)
    random.Random(seed).shuffle(shuffled)
    if shuffled == keys and len(keys) > 1:
        shuffled = shuffled[1:] + shuffled[:1]
    return shuffled


class QuestionType:
    """Everything one question type means. Defaults suit a type with nothing to hide or order."""

    name: ClassVar[str]
    # The type-specific fields of a question (inline in a bank file, `data` in the API).
    schema: ClassVar[type[Schema]]
    # How a student answers over the API (for the OpenAPI description of `answer`).
    answer_help: ClassVar[str]
    # False only for code: the sandbox grades it later, in a job.
    graded_at_once: ClassVar[bool] = True

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        loaded: dict[str, Any] = self.schema().load(data)
        return loaded

    def problems(self, slug: str, points: float, data: dict[str, Any], prompt: str) -> list[str]:
        """What makes valid data inconsistent with the rest of its question."""
        return []

    def resolve(self, data: dict[str, Any], variant: dict[str, float]) -> dict[str, Any]:
        """The data as one student's parameter values make it (types with parameters)."""
        return data

    def shuffled(self, data: dict[str, Any], seed: str) -> list[str] | None:
        """The keys this type shows in a per-student order (kept in an attempt's layout), or
        None when it shows the bank's order."""
        return None

    def student_view(self, data: dict[str, Any], order: list[str] | None) -> dict[str, Any]:
        """What a student may see before answering: never a key. `order`: from shuffled()."""
        return {}

    def check_answer(self, data: dict[str, Any], answer: Any) -> Any:
        """The answer in its normal form, or AnswerError saying what form it must have."""
        raise NotImplementedError

    def grade(self, data: dict[str, Any], answer: Any) -> Verdict:
        """Score an answer that check_answer accepted."""
        raise AnswerError(f"{self.name} answers are not graded at once")

    def key(self, data: dict[str, Any]) -> Any:
        """The answer key in the form a student answers (for the review)."""
        return None

    def full_marks(self, data: dict[str, Any]) -> list[Any]:
        """Answers the bank check proves get full marks (the key, at least)."""
        key = self.key(data)
        return [] if key is None else [key]

    def grading_identity(self, data: dict[str, Any]) -> Any:
        """What an answer is graded against: equal identities grade every answer alike."""
        return data

    def form_answer(self, data: dict[str, Any], form: Form, name: str) -> Any:
        """The answer a page's form fields named `name…` hold, in the API's shape, or None."""
        raw = form.get(name)
        return None if raw is None or raw == "" else self.form_value(raw)

    def form_value(self, raw: str) -> Any:
        """One non-empty form field as an answer (a number field parses its text)."""
        return raw

    def page_prompt(self, prompt: str) -> str:
        """The prompt as a page shows it (Markdown); the API gives it as written."""
        return prompt

    @property
    def template(self) -> str:
        return f"qtypes/{self.name}.html"


class OrderedKeysType(QuestionType):
    """A type whose answer key is an order of keys (ordering's items, matching's rights): each
    student sees the keys in an order of their own, never the key's."""

    def keys(self, data: dict[str, Any]) -> list[str]:
        """The keys in the bank's order."""
        raise NotImplementedError

    def shuffled(self, data: dict[str, Any], seed: str) -> list[str] | None:
        return derange(self.keys(data), seed)

    def shown(self, data: dict[str, Any], order: list[str] | None) -> list[str]:
        """In the attempt's order, or outside an attempt in one fixed order per question."""
        return in_order(self.keys(data), order or derange(self.keys(data), "view"))


REGISTRY: dict[str, QuestionType] = {}
T = TypeVar("T", bound=type[QuestionType])


def register(cls: T) -> T:
    if cls.name in REGISTRY:
        raise RuntimeError(f"question type {cls.name!r} is registered twice")
    REGISTRY[cls.name] = cls()
    return cls


def lookup(mapping: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in mapping:
        raise AnswerError(f"unknown {what} {key!r}; valid ones are {sorted(mapping)}")
    return mapping[key]
