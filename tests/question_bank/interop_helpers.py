"""What the import tests share: importing a text, and whether the partial-credit fields of the
types registry (branch `types`: `fraction` on choices, `partial` on short text and numeric) and
the new types are in the bank's schemas yet."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from question_bank.interop.base import FileResult, Slugs
from question_bank.interop.formats import import_data
from question_bank.types import validate_data


def imported(text: str | bytes, name: str = "file", fmt: str = "auto") -> FileResult:
    data = text.encode() if isinstance(text, str) else text
    return import_data(data, name, fmt, Slugs())


def by_title(result: FileResult) -> dict[str, dict[str, Any]]:
    return {q["title"]: q for q in result.questions}


def refused(result: FileResult) -> dict[str, str]:
    return {r.name: r.reason for r in result.refused}


def _accepts(qtype: str, data: dict[str, Any]) -> bool:
    try:
        validate_data(qtype, data)
    except ValidationError:
        return False
    return True


FRACTIONS = _accepts(
    "single_choice",
    {
        "choices": [
            {"id": "a", "text": "x", "correct": True},
            {"id": "b", "text": "y", "correct": False, "fraction": 0.5},
        ]
    },
)
PARTIAL = _accepts("short_text", {"accept": ["x"], "partial": [{"accept": "y", "fraction": 0.5}]})
MATCHING = _accepts(
    "matching",
    {"pairs": [{"id": "p1", "left": "a", "right": "1"}, {"id": "p2", "left": "b", "right": "2"}]},
)
CLOZE = _accepts(
    "cloze", {"blanks": [{"id": "b1", "kind": "short_text", "accept": ["x"], "points": 1}]}
)

needs_fractions = pytest.mark.skipif(
    not FRACTIONS, reason="choice fractions come with the types branch"
)
needs_partial = pytest.mark.skipif(not PARTIAL, reason="partial credit comes with the types branch")
needs_matching = pytest.mark.skipif(not MATCHING, reason="matching comes with the types branch")
needs_cloze = pytest.mark.skipif(not CLOZE, reason="cloze comes with the types branch")
