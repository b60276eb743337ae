"""What every format's importer shares: refusals, results, slugs, tags and the final check.

An importer turns each question of a file into a *candidate*: a bank question in its file form
(the common fields and the type's fields inline, as in `content/questions/*.yaml`) but without a
slug yet, or into a refusal that names the question and says why. `finish` gives the candidates
stable, unique slugs and validates each with the bank's own schemas, so a question is imported
whole or refused whole.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError

from question_bank.loader import parse_question
from question_bank.types import SLUG_PATTERN, TAG_PATTERN

MAX_TITLE = 200
MAX_TAGS = 20


class Refusal(Exception):
    """This question cannot be imported; the message says why (shown to the instructor)."""


# What a question so broken that no rule names it makes a reader raise: refused, never a crash.
BROKEN = (LookupError, ValueError, TypeError, AttributeError, RecursionError)


class FileError(Exception):
    """The file cannot be read at all (not this format, broken, too large)."""


@dataclass
class Candidate:
    """A question read from a file, before it has a slug: `fields` in the bank's file form."""

    name: str
    fields: dict[str, Any]
    # What the slug is made from: the file's own id (Moodle idnumber, QTI identifier) or the name.
    slug_hint: str = ""


@dataclass
class Refused:
    name: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason}


# What a reader makes of each question of a file.
Item = Candidate | Refused


@dataclass
class FileResult:
    path: str
    format: str | None
    # Validated questions in the bank's parsed form ({common fields..., data: {...}}).
    questions: list[dict[str, Any]] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "format": self.format,
            "imported": [
                {"slug": q["slug"], "type": q["type"], "title": q["title"]} for q in self.questions
            ],
            "refused": [r.to_dict() for r in self.refused],
        }
        if self.error is not None:
            out["error"] = self.error
        return out


def slugify(text: str, limit: int = 72) -> str:
    """Lowercase ASCII letters, digits and single dashes (accents folded), at most `limit` long."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    return slug[:limit].rstrip("-")


def tag_of(text: str) -> str | None:
    tag = slugify(text, 40)
    return tag if tag and re.fullmatch(TAG_PATTERN, tag) else None


# Moodle's context prefixes and its root category carry no meaning as tags.
_CATEGORY_NOISE = {"top", "$course$", "$system$", "$module$", "$coursecategory$", "$cat1$"}


def category_tags(path: str) -> list[str]:
    """A category path such as `$course$/top/Regularization/Dropout` as tags, outermost first."""
    tags: list[str] = []
    for part in re.split(r"(?<!/)/(?!/)", path):
        part = part.replace("//", "/").strip()
        if not part or part.lower() in _CATEGORY_NOISE:
            continue
        tag = tag_of(part)
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def merge_tags(*groups: list[str]) -> list[str]:
    tags: list[str] = []
    for group in groups:
        for tag in group:
            if tag not in tags:
                tags.append(tag)
    return tags[:MAX_TAGS]


def title_from(text: str, limit: int = 80) -> str:
    """A title from the first words of a prompt (Markdown marks and math delimiters dropped)."""
    plain = re.sub(r"\\(.)", r"\1", re.sub(r"\*\*|[*`#>$]|\(http[^)]*\)", "", text))
    plain = " ".join(plain.split())
    if len(plain) <= limit:
        return plain or "Untitled question"
    return plain[: limit - 1].rsplit(" ", 1)[0] + "…"


def fraction_of(value: Any, scale: float = 100.0) -> float:
    """A Moodle-style percentage (or a plain number with scale 1) as a fraction; Refusal if not
    a number."""
    try:
        number = float(str(value).strip()) / scale
    except (TypeError, ValueError):
        raise Refusal(f"the grade {value!r} is not a number") from None
    if number != number or abs(number) > 1 + 1e-9:  # NaN, or more than 100 %
        raise Refusal(f"the grade {value!r} is outside -100 % .. 100 %")
    return max(-1.0, min(1.0, number))


def choice_ids(count: int) -> list[str]:
    """a, b, … z, then a1, b1, …: short ids in the bank's style."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [letters[i % 26] + (str(i // 26) if i >= 26 else "") for i in range(count)]


def choices_with_fractions(
    texts: list[str], fractions: list[float], multiple: bool
) -> tuple[str, list[dict[str, Any]]]:
    """Choices from per-answer fractions (1.0 = full marks), and the question type.

    single: the full-marks answer is correct, other answers keep a nonzero fraction as partial
    credit. multiple: the correct answers are those with a positive fraction; they must add up
    to 100 %. Fractions equal to holdout's own rule (each correct 1/C, each wrong -1/W) are left
    out, so the question grades as it did where it came from and exports back the same.
    """
    if len(texts) < 2:
        raise Refusal(f"a choice question needs at least two answers, found {len(texts)}")
    ids = choice_ids(len(texts))
    if not multiple:
        full = [i for i, f in enumerate(fractions) if f >= 1 - 1e-6]
        if not full:
            best = max(fractions) * 100
            raise Refusal(f"no answer earns full marks (the best earns {best:g} %)")
        if len(full) > 1:
            # Several right answers, one to pick: a multiple-choice question with one tick each
            # would grade differently; holdout's single choice has one key.
            raise Refusal(f"{len(full)} answers earn full marks, but only one can be chosen")
        choices = []
        for i, (text, fraction) in enumerate(zip(texts, fractions, strict=True)):
            choice: dict[str, Any] = {"id": ids[i], "text": text, "correct": i == full[0]}
            if i != full[0] and abs(fraction) > 1e-9:
                choice["fraction"] = round(fraction, 7)
            choices.append(choice)
        return "single_choice", choices
    positive = [f for f in fractions if f > 1e-9]
    if not positive:
        raise Refusal("no answer earns any marks")
    total = sum(positive)
    if abs(total - 1) > 1e-4:
        raise Refusal(
            f"the fractions of the correct answers add up to {total * 100:g} %, not 100 %"
        )
    wrong = [f for f in fractions if f <= 1e-9]
    if not wrong:
        raise Refusal("every answer is correct: a multiple-choice question needs a wrong one")
    own_rule = all(abs(f - 1 / len(positive)) < 1e-5 for f in positive) and all(
        abs(f + 1 / len(wrong)) < 1e-5 for f in wrong
    )
    choices = []
    for i, (text, fraction) in enumerate(zip(texts, fractions, strict=True)):
        choice = {"id": ids[i], "text": text, "correct": fraction > 1e-9}
        if not own_rule:
            choice["fraction"] = round(fraction, 7)
        choices.append(choice)
    return "multiple_choice", choices


def own_rule_fractions(choices: list[dict[str, Any]]) -> list[float]:
    """Each choice's fraction as holdout grades it (its own, or 1/C and -1/W): for export."""
    if any(c.get("fraction") is not None for c in choices):
        return [
            float(c["fraction"])
            if c.get("fraction") is not None
            else (1.0 if c["correct"] else 0.0)
            for c in choices
        ]
    right = sum(1 for c in choices if c["correct"])
    wrong = len(choices) - right
    return [1 / right if c["correct"] else -1 / wrong for c in choices]


def _error_text(exc: ValidationError) -> str:
    messages = exc.messages
    if isinstance(messages, dict):
        return "; ".join(f"{k}: {v}" for k, v in messages.items())
    return str(messages)


class Slugs:
    """Unique slugs for one run (every file of an import): the hint if free, else with -2, -3…"""

    def __init__(self, taken: set[str] | None = None) -> None:
        self.taken: set[str] = set(taken or ())

    def claim(self, hint: str, fields: dict[str, Any]) -> str:
        base = slugify(hint) if hint else ""
        if len(base) < 2:
            digest = hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest()[:8]
            base = f"imported-{digest}"
        base = base[:72]
        slug, n = base, 1
        while slug in self.taken or not re.fullmatch(SLUG_PATTERN, slug):
            n += 1
            slug = f"{base}-{n}"
        self.taken.add(slug)
        return slug


def finish(items: list[Item], slugs: Slugs) -> tuple[list[dict[str, Any]], list[Refused]]:
    """Slug and validate every candidate: each becomes a bank question or a refusal."""
    questions: list[dict[str, Any]] = []
    refused: list[Refused] = []
    for item in items:
        if isinstance(item, Refused):
            refused.append(item)
            continue
        fields = dict(item.fields)
        fields["title"] = (fields.get("title") or "").strip()[:MAX_TITLE] or title_from(
            fields.get("prompt", "")
        )
        if not (fields.get("explanation") or "").strip():
            fields["explanation"] = "No explanation was given with this question."
        slug = slugs.claim(item.slug_hint or item.name, fields)
        try:
            questions.append(parse_question({**fields, "slug": slug}))
        except ValidationError as exc:
            slugs.taken.discard(slug)
            refused.append(Refused(item.name, f"not a valid holdout question: {_error_text(exc)}"))
        except RecursionError:
            slugs.taken.discard(slug)
            refused.append(Refused(item.name, "nested too deeply"))
    return questions, refused


def file_form(question: dict[str, Any]) -> dict[str, Any]:
    """A parsed bank question back in its file form (type fields inline, defaults left out)."""
    out = {k: v for k, v in question.items() if k != "data"}
    for key, value in question["data"].items():
        if value in (None, [], {}) or (key == "shuffle" and value is False):
            continue
        if key == "tolerance" and value == {"abs": 0.0, "rel": 0.0}:
            continue
        if key == "choices":
            value = [{k: v for k, v in c.items() if v is not None} for c in value]
        out[key] = value
    return out


def number(value: Any, what: str = "a number") -> float:
    """A finite number from a file's text (a decimal comma allowed); Refusal otherwise."""
    try:
        result = float(str(value).strip().replace(",", "."))
    except (TypeError, ValueError):
        raise Refusal(f"{what} {value!r} is not a number") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise Refusal(f"{what} {value!r} is not a finite number")
    return result


def guarded(label: str, build: Callable[[], Candidate]) -> Candidate | Refused:
    """One question read whole, or refused under `label`: with its Refusal's reason, or as
    malformed when it breaks a reader in a way no rule names."""
    try:
        return build()
    except Refusal as exc:
        return Refused(label, str(exc))
    except BROKEN as exc:
        return Refused(
            label, f"the question is malformed, it cannot be read ({type(exc).__name__})"
        )
