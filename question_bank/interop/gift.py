"""GIFT, Moodle's text format (https://docs.moodle.org/en/GIFT_format), read the way Moodle's own
importer (question/format/gift) reads it.

No maintained GIFT parser is published on PyPI (the few packages are years without a release or
read an extended dialect), so this is a small parser of holdout's own, tested against the
documented syntax: questions separated by blank lines, `//` comment lines, `$CATEGORY:` lines,
`::title::`, `[html]`/`[moodle]`/`[plain]`/`[markdown]` format markers, the escapes
`\\~ \\= \\# \\{ \\} \\: \\\\ \\n`, answer weights `%50%`, per-answer feedback `#…` and general
feedback `####…`, and text after the answer block (the "missing word" form).

Types, as Moodle tells them apart: `{}` essay (refused), `{#…}` numerical (`x`, `x:t`, `a..b`,
several `=` answers with weights), `~` anywhere: multiple choice (single when an answer starts
with `=`, else several correct answers whose weights must add up to 100 %), `=` with `->`:
matching, `T`/`F`/`TRUE`/`FALSE`: true/false, otherwise short answer. A question with no answer
block is a description (refused).
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from question_bank.interop.base import (
    Candidate,
    FileError,
    Item,
    Refusal,
    category_tags,
    choices_with_fractions,
    fraction_of,
    guarded,
    number,
)
from question_bank.interop.text import AUTO, HTML, MARKDOWN, PLAIN, to_markdown, to_plain

NAME = "gift"
_FORMAT_MARKERS = {"[html]": HTML, "[moodle]": AUTO, "[plain]": PLAIN, "[markdown]": MARKDOWN}
# Escaped characters become private-use placeholders while the structure is parsed.
_ESCAPES = {"\\\\": "\ue000", "\\:": "\ue001", "\\#": "\ue002", "\\=": "\ue003",
            "\\{": "\ue004", "\\}": "\ue005", "\\~": "\ue006", "\\n": "\ue007"}  # fmt: skip
_LITERALS = {"\ue000": "\\", "\ue001": ":", "\ue002": "#", "\ue003": "=", "\ue004": "{",
             "\ue005": "}", "\ue006": "~", "\ue007": "\n"}  # fmt: skip
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")
_MAX_QUESTIONS = 10_000


def _escape(text: str) -> str:
    return re.sub(r"\\[\\:#={}~n]", lambda m: _ESCAPES[m.group(0)], text)


def _literal(text: str) -> str:
    return "".join(_LITERALS.get(c, c) for c in text)


def _decode(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileError(f"{filename}: GIFT files are UTF-8 text, and this is not") from None


def sniff(data: bytes, filename: str) -> bool:
    if filename.lower().endswith(".gift"):
        return True
    head = data[:65536]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") or b"\x00" in head:
        return False
    try:
        sample = head.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return False
    return ("{" in sample and "}" in sample) or sample.lstrip().startswith(("::", "$CATEGORY:"))


def _blocks(text: str) -> list[list[str]]:
    """Questions are separated by blank lines; lines are trimmed (as Moodle does)."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.strip()
        if line:
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


class _Text:
    """A piece of GIFT text with its format: converted when the question is built."""

    def __init__(self, raw: str, default: str) -> None:
        raw = raw.strip()
        self.format = default
        for marker, fmt in _FORMAT_MARKERS.items():
            if raw.lower().startswith(marker):
                self.format, raw = fmt, raw[len(marker) :].strip()
                break
        self.raw = _literal(raw)

    def markdown(self, where: str) -> str:
        return to_markdown(self.raw, self.format, where, feedback="feedback" in where)

    def plain(self) -> str:
        return to_plain(self.raw, self.format if self.format == HTML else PLAIN)


def _split_feedback(answer: str) -> tuple[str, str]:
    text, _, feedback = answer.partition("#")
    return text.strip(), feedback.strip()


def _weighted(answer: str, default: float) -> tuple[float, str]:
    match = _WEIGHT.match(answer.strip())
    if match:
        return fraction_of(match.group(1)), answer.strip()[match.end() :]
    return default, answer.strip()


def _choice(body: str, fmt: str, fields: dict[str, Any], feedback: list[str]) -> None:
    multiple = "=" not in body
    texts, fractions = [], []
    for raw in body.replace("=", "~=").split("~"):
        if not raw.strip():
            continue
        raw = raw.strip()
        if raw.startswith("="):
            fraction, raw = 1.0, raw[1:]
        else:
            fraction, raw = _weighted(raw, 0.0)
        value, comment = _split_feedback(raw)
        text = _Text(value, fmt).markdown("an answer")
        if not text:
            raise Refusal("an answer has no text")
        texts.append(text)
        fractions.append(fraction)
        if comment:
            feedback.append(f"- {text}: {_Text(comment, fmt).markdown('a feedback')}")
    qtype, choices = choices_with_fractions(texts, fractions, multiple)
    fields.update(type=qtype, choices=choices, shuffle=True)


def _numeric_value(value: str) -> tuple[float, float]:
    value = value.strip()
    if ".." in value:
        low, _, high = value.partition("..")
        a, b = number(low, "the range's start"), number(high, "the range's end")
        if a > b:
            raise Refusal(f"the range {value!r} ends before it starts")
        return (a + b) / 2, (b - a) / 2
    answer, _, tolerance = value.partition(":")
    return number(answer, "the answer"), abs(number(tolerance or "0", "the tolerance"))


def _numeric(body: str, fields: dict[str, Any], feedback: list[str]) -> None:
    body = body.strip()[1:]  # the leading '#'
    body, tilde, wrong = body.partition("~")  # Moodle 1.9's "~#feedback" for any wrong answer
    if tilde and _split_feedback(wrong)[1]:
        feedback.append(
            f"- a wrong answer: {_Text(_split_feedback(wrong)[1], AUTO).markdown('a feedback')}"
        )
    entries = [body] if "=" not in body else [e for e in body.split("=") if e.strip()]
    full: list[tuple[float, float]] = []
    partial = []
    for entry in entries:
        fraction, entry = _weighted(entry, 1.0)
        value, comment = _split_feedback(entry)
        if not value or value == "*":
            continue
        answer, tolerance = _numeric_value(_literal(value))
        if comment:
            feedback.append(f"- {value}: {_Text(comment, AUTO).markdown('a feedback')}")
        if fraction >= 1 - 1e-6:
            full.append((answer, tolerance))
        elif fraction > 1e-9:
            partial.append(
                {
                    "answer": answer,
                    "tolerance": {"abs": tolerance, "rel": 0.0},
                    "fraction": fraction,
                }
            )
    if not full:
        raise Refusal("no answer earns full marks")
    if len(set(full)) > 1:
        raise Refusal(f"{len(set(full))} different answers earn full marks; holdout keeps one")
    fields.update(type="numeric", answer=full[0][0], tolerance={"abs": full[0][1], "rel": 0.0})
    if partial:
        fields["partial"] = partial


def _short_text(body: str, fields: dict[str, Any], feedback: list[str]) -> None:
    accept: list[str] = []
    partial = []
    for raw in body.split("="):
        if not raw.strip():
            continue
        fraction, raw = _weighted(raw, 1.0)
        value, comment = _split_feedback(raw)
        text = _Text(value, PLAIN).plain()
        if comment:
            feedback.append(f"- {text}: {_Text(comment, AUTO).markdown('a feedback')}")
        if not text or fraction <= 1e-9:
            continue
        if fraction >= 1 - 1e-6:
            accept.append(text)
        else:
            partial.append({"accept": text, "fraction": fraction})
    if not accept:
        raise Refusal("no answer earns full marks")
    fields.update(type="short_text", accept=accept)
    if partial:
        fields["partial"] = partial


def _matching(body: str, fmt: str, fields: dict[str, Any]) -> None:
    pairs: list[dict[str, Any]] = []
    distractors: list[str] = []
    for raw in body.split("="):
        if not raw.strip():
            continue
        left, arrow, right = raw.partition("->")
        if not arrow:
            raise Refusal(f"the matching pair {_literal(raw).strip()!r} has no '->'")
        right_text = _Text(right, PLAIN).plain()
        if not right_text:
            raise Refusal("a matching pair has nothing after '->'")
        left_text = _Text(left, fmt).markdown("a matching item")
        if left_text:
            pairs.append({"id": f"p{len(pairs) + 1}", "left": left_text, "right": right_text})
        else:
            distractors.append(right_text)
    if len(pairs) < 2:
        raise Refusal(f"a matching question needs at least two pairs, found {len(pairs)}")
    fields.update(type="matching", pairs=pairs, distractors=distractors)


def _true_false(body: str, fields: dict[str, Any], feedback: list[str]) -> None:
    value, *comments = body.split("#")
    fields.update(type="true_false", answer=value.strip().upper() in ("T", "TRUE"))
    labels = ("a wrong answer", "the right answer")
    for label, comment in zip(labels, comments, strict=False):
        if comment.strip():
            feedback.append(f"- {label}: {_Text(comment, AUTO).markdown('a feedback')}")


def _question(lines: list[str]) -> tuple[str, dict[str, Any]]:
    text = _escape("\n".join(lines))
    title = ""
    if text.startswith("::"):
        end = text.find("::", 2)
        if end < 0:
            raise Refusal("the title has no closing '::'")
        title, text = _literal(text[2:end]).strip(), text[end + 2 :].strip()
    start = text.find("{")
    if start < 0:
        raise Refusal("no answer block: a description has nothing to grade")
    finish = text.find("}", start)
    if finish < 0:
        raise Refusal("the answer block has no closing '}'")
    after = text[finish + 1 :].strip()
    gap = "" if not after else (" _____" if after[0] in ".,;:!?)" else " _____ ")
    prompt_raw = text[:start].rstrip() + gap + after
    prompt_text = _Text(prompt_raw, AUTO)
    name = title or to_plain(prompt_text.raw)[:60] or "untitled"
    body = text[start + 1 : finish].strip()
    general = ""
    if "####" in body:
        body, general = body.split("####", 1)
        body = body.strip()
    fields: dict[str, Any] = {"title": title, "prompt": prompt_text.markdown("the prompt")}
    feedback: list[str] = []
    tf = body.split("#", 1)[0].strip().upper() if "#" in body else body.upper()
    if not body:
        raise Refusal("an essay ({}) is graded by a person, not by holdout")
    if body.startswith("#"):
        _numeric(body, fields, feedback)
    elif "~" in body:
        _choice(body, prompt_text.format, fields, feedback)
    elif "=" in body and "->" in body:
        _matching(body, prompt_text.format, fields)
    elif tf in ("T", "TRUE", "F", "FALSE"):
        _true_false(body, fields, feedback)
    else:
        _short_text(body, fields, feedback)
    explanation = (
        _Text(general, prompt_text.format).markdown("the general feedback") if general else ""
    )
    if feedback:
        explanation = (
            explanation + "\n\nFeedback on the answers:\n\n" + "\n".join(feedback)
        ).strip()
    fields["explanation"] = explanation
    return name, fields


def read(data: bytes, filename: str) -> list[Item]:
    text = _decode(data, filename)
    items: list[Item] = []
    tags: list[str] = []
    for position, block in enumerate(_blocks(text), start=1):
        if len(items) >= _MAX_QUESTIONS:
            raise FileError(f"{filename}: more than {_MAX_QUESTIONS} questions")
        lines = [line for line in block if not line.startswith("//")]
        if lines and lines[0].startswith("$CATEGORY:"):
            tags = category_tags(lines[0][len("$CATEGORY:") :].strip())
            lines = lines[1:]
        if not lines:
            continue
        titled = re.match(r"::(.*?)::", _escape(lines[0]))
        first = to_plain(_literal(titled.group(1) if titled else _escape(lines[0])))[:60]
        label = first if titled else f"question {position}: {first}"
        items.append(guarded(label, partial(_candidate, lines, list(tags))))
    return items


def _candidate(lines: list[str], tags: list[str]) -> Candidate:
    name, fields = _question(lines)
    fields["tags"] = list(tags)
    return Candidate(name=name, fields=fields, slug_hint=fields.get("title") or name)
