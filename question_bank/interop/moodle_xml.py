"""Moodle XML (https://docs.moodle.org/en/Moodle_XML_format): import and export.

Read: multichoice (single and multiple, per-answer `fraction`), truefalse, shortanswer (several
answers, `usecase`, `*` wildcards, partial credit), numerical (tolerance, partial credit, the
unit), matching, ordering and cloze (multianswer) where holdout has those types. Category
questions set the tags of the questions after them, and `<tags>` add theirs; `<idnumber>` is the
slug when it is one. What holdout cannot grade (essay, description, calculated, drag and drop…)
is refused by its Moodle type name.

Written: the quick questions, with their Markdown in `format="markdown"`, the slug in
`<idnumber>`, the tags in `<tags>`; regular-expression answers (which Moodle's short answer
lacks) in a `<holdout_patterns>` element that Moodle ignores and holdout reads back.
"""

from __future__ import annotations

import html
import math
import re
from functools import partial
from typing import Any
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from question_bank.interop import cloze as cloze_text
from question_bank.interop.base import (
    Candidate,
    FileError,
    Item,
    Refusal,
    Refused,
    category_tags,
    choices_with_fractions,
    fraction_of,
    guarded,
    merge_tags,
    number,
    own_rule_fractions,
    tag_of,
)
from question_bank.interop.text import AUTO, FORMATS, HTML, MARKDOWN, to_markdown, to_plain
from question_bank.interop.xmlsafe import child, children, local, parse_xml, text
from question_bank.types import normalize_text

NAME = "moodle-xml"

UNGRADABLE = {
    "essay": "an essay is graded by a person, not by holdout",
    "description": "a description has no answer to grade",
    "random": "a random question is drawn from a category at quiz time, not a question itself",
    "randomsamatch": "a random short-answer matching question is drawn at quiz time",
    "calculatedmulti": "calculated multiple choice (formulas in the choices) is not imported",
    "ddwtos": "drag and drop into text is not a type holdout grades",
    "gapselect": "select missing words is not a type holdout grades",
    "ddimageortext": "drag and drop onto an image is not a type holdout grades",
    "ddmarker": "drag and drop markers is not a type holdout grades",
    "gapfill": "gap fill is not a type holdout grades",
    "stack": "STACK questions need a computer algebra system",
    "coderunner": "CodeRunner questions run code holdout does not know",
    "regexp": "regular-expression short answers use a plugin holdout does not read",
}


def sniff(data: bytes, filename: str) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<") and re.search(rb"<quiz[\s>]", data[:65536]) is not None


def _formatted(element: Element | None, where: str, feedback: bool = False) -> str:
    if element is None:
        return ""
    fmt = element.get("format", HTML)
    return to_markdown(text(element, "text"), fmt if fmt in FORMATS else HTML, where, feedback)


def _flag(element: Element, name: str, default: bool) -> bool:
    value = text(element, name).strip().lower()
    if not value:
        return default
    return value in ("1", "true", "yes")


def _answers(question: Element) -> list[Element]:
    return children(question, "answer")


def _feedback_lines(question: Element, labels: list[str]) -> list[str]:
    lines = []
    for label, answer in zip(labels, _answers(question), strict=False):
        feedback = _formatted(child(answer, "feedback"), "an answer's feedback", True)
        if feedback:
            lines.append(f"- {label}: {feedback}")
    return lines


def _choice(question: Element, fields: dict[str, Any], multiple: bool) -> None:
    answers = _answers(question)
    texts = [_formatted(a, "an answer") for a in answers]
    if any(not t for t in texts):
        raise Refusal("an answer has no text")
    fractions = [fraction_of(a.get("fraction", "0")) for a in answers]
    qtype, choices = choices_with_fractions(texts, fractions, multiple)
    fields.update(type=qtype, choices=choices, shuffle=_flag(question, "shuffleanswers", True))


def _true_false(question: Element, fields: dict[str, Any]) -> None:
    key = None
    for answer in _answers(question):
        value = to_plain(text(answer, "text")).lower()
        if fraction_of(answer.get("fraction", "0")) >= 1 - 1e-6 and value in ("true", "false"):
            key = value == "true"
    if key is None:
        raise Refusal("neither 'true' nor 'false' earns full marks")
    fields.update(type="true_false", answer=key)


def _wildcard_pattern(parts: list[str]) -> str:
    """Moodle's `*` (any characters) as a regular expression over the normalized answer."""
    return ".*".join(re.escape(normalize_text(part)) for part in parts)


def _listed(question: Element, holder: str, name: str) -> list[Element]:
    found = child(question, holder)
    return children(found, name) if found is not None else []


def _short_text(question: Element, fields: dict[str, Any]) -> None:
    accept: list[str] = []
    patterns: list[str] = []
    partial: list[dict[str, Any]] = []
    for answer in _answers(question):
        raw = to_plain(text(answer, "text"), answer.get("format", AUTO))
        # `*` matches anything; `\*` is a star.
        parts = [p.replace("\\*", "*") for p in re.split(r"(?<!\\)\*", raw)]
        value = "*".join(parts)
        fraction = fraction_of(answer.get("fraction", "0"))
        if fraction <= 1e-9 or not value:
            continue  # a wrong answer (often `*` with feedback): holdout needs no such entry
        if len(parts) > 1 and fraction >= 1 - 1e-6:
            patterns.append(_wildcard_pattern(parts))
        elif len(parts) > 1:
            raise Refusal(f"the partial-credit answer {raw!r} uses a wildcard")
        elif fraction >= 1 - 1e-6:
            accept.append(value)
        else:
            partial.append({"accept": value, "fraction": round(fraction, 7)})
    patterns += [text(p) for p in _listed(question, "holdout_patterns", "pattern")]
    if not accept and not patterns:
        raise Refusal("no answer earns full marks")
    fields.update(type="short_text", accept=accept, patterns=patterns)
    if _flag(question, "usecase", False):
        fields["case_sensitive"] = True
    if partial:
        fields["partial"] = partial


def _numeric(question: Element, fields: dict[str, Any]) -> None:
    full: list[tuple[float, float]] = []
    partial: list[dict[str, Any]] = []
    for answer in _answers(question):
        raw = to_plain(text(answer, "text"))
        fraction = fraction_of(answer.get("fraction", "0"))
        if fraction <= 1e-9 or raw == "*":
            continue
        value = number(raw, "the answer")
        tolerance = abs(number(text(answer, "tolerance") or "0", "the tolerance"))
        if fraction >= 1 - 1e-6:
            full.append((value, tolerance))
        else:
            partial.append(
                {
                    "answer": value,
                    "tolerance": {"abs": tolerance, "rel": 0.0},
                    "fraction": round(fraction, 7),
                }
            )
    if not full:
        raise Refusal("no answer earns full marks")
    if len(set(full)) > 1:
        raise Refusal(
            f"{len(full)} different answers earn full marks; holdout keeps one per question"
        )
    value, tolerance = full[0]
    fields.update(type="numeric", answer=value, tolerance={"abs": tolerance, "rel": 0.0})
    for unit in _listed(question, "units", "unit"):
        name = to_plain(text(unit, "unit_name"))
        if name and abs(number(text(unit, "multiplier") or "1", "a unit's multiplier") - 1) < 1e-12:
            fields["unit"] = name[:40]
            break
    if partial:
        fields["partial"] = partial


def _matching(question: Element, fields: dict[str, Any]) -> None:
    pairs: list[dict[str, Any]] = []
    distractors = []
    for sub in children(question, "subquestion"):
        left = _formatted(sub, "a matching item")
        right = to_plain(text(sub, "answer", "text"))
        if not right:
            raise Refusal("a matching item has no answer")
        if not left:
            distractors.append(right)
        else:
            pairs.append({"id": f"p{len(pairs) + 1}", "left": left, "right": right})
    if len(pairs) < 2:
        raise Refusal(f"a matching question needs at least two pairs, found {len(pairs)}")
    _own_ids(question, pairs)
    fields.update(type="matching", pairs=pairs, distractors=distractors)


def _own_ids(question: Element, entries: list[dict[str, Any]]) -> None:
    """holdout's own export names the pairs, items or blanks: keep those ids."""
    ids = text(question, "holdout_ids").split()
    valid = all(re.fullmatch(r"[A-Za-z0-9_-]{1,16}", i) for i in ids)
    if valid and len(ids) == len(entries) and len(set(ids)) == len(ids):
        for entry, ident in zip(entries, ids, strict=True):
            entry["id"] = ident


def _ordering(question: Element, fields: dict[str, Any]) -> None:
    answers = _answers(question)
    ranked = sorted(
        enumerate(answers),
        key=lambda ia: (number(ia[1].get("fraction", ia[0] + 1), "a position"), ia[0]),
    )
    items = []
    for i, (_, answer) in enumerate(ranked):
        item_text = _formatted(answer, "an item")
        if not item_text:
            raise Refusal("an item to order has no text")
        items.append({"id": f"i{i + 1}", "text": item_text})
    if len(items) < 2:
        raise Refusal("an ordering question needs at least two items")
    _own_ids(question, items)
    fields.update(type="ordering", items=items)


def _cloze(question: Element, fields: dict[str, Any]) -> None:
    element = child(question, "questiontext")
    raw = text(element, "text")
    fmt = element.get("format", HTML) if element is not None else HTML
    prompt, blanks = cloze_text.parse_moodle_cloze(
        raw, lambda t: to_markdown(t, fmt if fmt in FORMATS else HTML, "the prompt")
    )
    ids = text(question, "holdout_ids").split()
    if len(ids) == len(blanks):
        before = [b["id"] for b in blanks]
        _own_ids(question, blanks)
        for old, new in zip(before, [b["id"] for b in blanks], strict=True):
            prompt = prompt.replace("{{blank:" + old + "}}", "{{blank:\x00" + new + "}}")
        prompt = prompt.replace("{{blank:\x00", "{{blank:")
    fields.update(type="cloze", prompt=prompt, blanks=blanks)


_FORMULA_IN_TEXT = re.compile(r"\{=((?:[^{}]|\{[A-Za-z_][A-Za-z0-9_]*\})*)\}")


def _moodle_formula(text_value: str) -> str:
    """Moodle's `{a} * pi()` as holdout's `a * pi` (question_bank/formula.py checks the rest)."""
    formula = re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", r"\1", text_value)
    return re.sub(r"\bpi\(\s*\)", "pi", formula).strip()


def _calculated(question: Element, fields: dict[str, Any]) -> None:
    """Calculated (and simple calculated) questions: each student draws the wildcards from their
    dataset's range, and the answer is the formula of those values."""
    parameters: dict[str, dict[str, float]] = {}
    for definition in _listed(question, "dataset_definitions", "dataset_definition"):
        name = to_plain(text(definition, "name", "text"))
        low = number(text(definition, "minimum", "text"), "a wildcard's minimum")
        high = number(text(definition, "maximum", "text"), "a wildcard's maximum")
        decimals = int(number(text(definition, "decimals", "text") or "0", "the decimals"))
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,30}", name):
            raise Refusal(f"the wildcard {name!r} is not a name holdout's formulas take")
        parameters[name] = {"min": low, "max": high, "step": 10.0 ** -max(0, min(decimals, 9))}
    full = [a for a in _answers(question) if fraction_of(a.get("fraction", "0")) >= 1 - 1e-6]
    if len(full) != 1:
        raise Refusal(f"{len(full)} formulas earn full marks; holdout keeps one")
    if any(0 < fraction_of(a.get("fraction", "0")) < 1 - 1e-6 for a in _answers(question)):
        raise Refusal("partial credit on a calculated answer is not imported")
    answer = full[0]
    tolerance = abs(number(text(answer, "tolerance") or "0", "the tolerance"))
    kind = text(answer, "tolerancetype").strip() or "1"
    if kind == "3":
        raise Refusal("a geometric tolerance has no holdout form")
    # The prompt again, with Moodle's `{=formula}` kept whole (Markdown escapes would break it).
    element = child(question, "questiontext")
    formulas: list[str] = []

    def keep(match: re.Match[str]) -> str:
        formulas.append("{=" + _moodle_formula(html.unescape(match.group(1))) + "}")
        return f"HOLDOUTFORMULA{len(formulas) - 1}Z"

    raw = _FORMULA_IN_TEXT.sub(keep, text(element, "text"))
    fmt = element.get("format", HTML) if element is not None else HTML
    prompt = to_markdown(raw, fmt if fmt in FORMATS else HTML, "the prompt")
    for i, formula in enumerate(formulas):
        prompt = prompt.replace(f"HOLDOUTFORMULA{i}Z", formula)
    fields.update(
        type="numeric",
        prompt=prompt,
        answer=None,
        answer_formula=_moodle_formula(to_plain(text(answer, "text"))),
        parameters=parameters,
        tolerance={"abs": tolerance, "rel": 0.0} if kind == "2" else {"abs": 0.0, "rel": tolerance},
    )


READERS = {
    "calculated": _calculated,
    "calculatedsimple": _calculated,
    "truefalse": _true_false,
    "shortanswer": _short_text,
    "numerical": _numeric,
    "matching": _matching,
    "match": _matching,
    "ordering": _ordering,
    "multianswer": _cloze,
    "cloze": _cloze,
}


def _question(question: Element, qtype: str, tags: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": to_plain(text(question, "name", "text")),
        "prompt": _formatted(child(question, "questiontext"), "the prompt"),
        "explanation": _formatted(
            child(question, "generalfeedback"), "the general feedback", feedback=True
        ),
        "tags": merge_tags(
            tags,
            [
                t
                for t in (tag_of(text(tag, "text")) for tag in _listed(question, "tags", "tag"))
                if t
            ],
        ),
    }
    grade = text(question, "defaultgrade").strip()
    if grade:
        points = number(grade, "the default grade")
        fields["points"] = points if points > 0 else 1.0
    if qtype == "multichoice":
        _choice(question, fields, multiple=not _flag(question, "single", True))
        labels = [c["text"] for c in fields["choices"]]
    else:
        READERS[qtype](question, fields)
        labels = [to_plain(text(a, "text")) for a in _answers(question)]
    if not fields.get("prompt"):
        raise Refusal("the question has no text")
    feedback = (
        _feedback_lines(question, labels)
        if qtype in ("multichoice", "truefalse", "shortanswer", "numerical")
        else []
    )
    if feedback:
        extra = "Feedback on the answers:\n\n" + "\n".join(feedback)
        fields["explanation"] = f"{fields['explanation']}\n\n{extra}".strip()
    return fields


def read(data: bytes, filename: str) -> list[Item]:
    root = parse_xml(data, filename)
    if local(root.tag) != "quiz":
        raise FileError(
            f"{filename}: a Moodle XML file has <quiz> at its root, not <{local(root.tag)}>"
        )
    items: list[Item] = []
    tags: list[str] = []
    for position, question in enumerate(children(root, "question"), start=1):
        qtype = question.get("type", "")
        name = to_plain(text(question, "name", "text")) or f"question {position}"
        if qtype == "category":
            tags = category_tags(to_plain(text(question, "category", "text")))
            continue
        label = f"{name} ({qtype or 'no type'})"
        if qtype in UNGRADABLE:
            items.append(Refused(label, UNGRADABLE[qtype]))
            continue
        if qtype != "multichoice" and qtype not in READERS:
            items.append(
                Refused(label, f"the Moodle question type {qtype!r} is not one holdout reads")
            )
            continue
        hint = to_plain(text(question, "idnumber")) or name
        items.append(guarded(label, partial(_candidate, question, qtype, list(tags), label, hint)))
    return items


def _candidate(question: Element, qtype: str, tags: list[str], label: str, hint: str) -> Candidate:
    return Candidate(name=label, fields=_question(question, qtype, tags), slug_hint=hint)


# Export ------------------------------------------------------------------------------------


def _percent(fraction: float) -> str:
    text_value = f"{fraction * 100:.7f}".rstrip("0").rstrip(".")
    return "0" if text_value in ("-0", "") else text_value


def _text_element(parent: Element, tag: str, value: str, fmt: str = MARKDOWN) -> Element:
    element = SubElement(parent, tag, format=fmt)
    SubElement(element, "text").text = value
    return element


def _answer(parent: Element, fraction: float, value: str, fmt: str = MARKDOWN) -> Element:
    answer = SubElement(parent, "answer", fraction=_percent(fraction), format=fmt)
    SubElement(answer, "text").text = value
    _text_element(answer, "feedback", "")
    return answer


def _to_moodle_formula(formula: str, names: set[str]) -> str:
    """holdout's `a * pi` as Moodle's `{a} * pi()`."""

    def name(match: re.Match[str]) -> str:
        word = match.group(0)
        return "{" + word + "}" if word in names else ("pi()" if word == "pi" else word)

    return re.sub(r"[A-Za-z_][A-Za-z0-9_]*", name, formula)


def _write_calculated(element: Element, data: dict[str, Any]) -> None:
    names = set(data["parameters"])
    answer = _answer(element, 1.0, _to_moodle_formula(data["answer_formula"], names))
    tol = data["tolerance"]
    relative = bool(tol["rel"]) and not tol["abs"]
    SubElement(answer, "tolerance").text = repr(float(tol["rel"] if relative else tol["abs"]))
    SubElement(answer, "tolerancetype").text = "1" if relative else "2"
    SubElement(answer, "correctanswerformat").text = "1"
    SubElement(answer, "correctanswerlength").text = "2"
    if data.get("unit"):
        unit = SubElement(SubElement(element, "units"), "unit")
        SubElement(unit, "multiplier").text = "1"
        SubElement(unit, "unit_name").text = data["unit"]
    definitions = SubElement(element, "dataset_definitions")
    for name, spec in sorted(data["parameters"].items()):
        definition = SubElement(definitions, "dataset_definition")
        SubElement(SubElement(definition, "status"), "text").text = "private"
        SubElement(SubElement(definition, "name"), "text").text = name
        SubElement(definition, "type").text = "calculated"
        SubElement(SubElement(definition, "distribution"), "text").text = "uniform"
        SubElement(SubElement(definition, "minimum"), "text").text = repr(float(spec["min"]))
        SubElement(SubElement(definition, "maximum"), "text").text = repr(float(spec["max"]))
        step = spec.get("step") or 0.01
        decimals = max(0, round(-math.log10(step))) if step < 1 else 0
        SubElement(SubElement(definition, "decimals"), "text").text = str(decimals)
        SubElement(definition, "itemcount").text = "0"
        SubElement(definition, "dataset_items")
        SubElement(definition, "number_of_items").text = "0"


def _calculated_prompt(prompt: str, names: set[str]) -> str:
    return re.sub(
        r"\{=([^{}]{1,500})\}", lambda m: "{=" + _to_moodle_formula(m.group(1), names) + "}", prompt
    )


def _export_one(quiz: Element, question: dict[str, Any]) -> None:
    qtype, data = question["type"], question["data"]
    calculated = qtype == "numeric" and bool(data.get("parameters"))
    element = SubElement(quiz, "question", type="calculated" if calculated else MOODLE_TYPES[qtype])
    SubElement(SubElement(element, "name"), "text").text = question["title"]
    prompt = cloze_text.write_moodle_cloze(question["prompt"], data) if qtype == "cloze" else None
    if calculated:
        prompt = _calculated_prompt(question["prompt"], set(data["parameters"]))
    _text_element(element, "questiontext", prompt or question["prompt"])
    _text_element(element, "generalfeedback", question["explanation"])
    SubElement(element, "defaultgrade").text = repr(float(question["points"]))
    SubElement(element, "penalty").text = "0"
    SubElement(element, "hidden").text = "0"
    SubElement(element, "idnumber").text = question["slug"]
    if qtype in ("single_choice", "multiple_choice"):
        SubElement(element, "single").text = "true" if qtype == "single_choice" else "false"
        SubElement(element, "shuffleanswers").text = "true" if data.get("shuffle") else "false"
        SubElement(element, "answernumbering").text = "abc"
        if qtype == "single_choice":
            fractions = [
                1.0 if c["correct"] else float(c.get("fraction") or 0.0) for c in data["choices"]
            ]
        else:
            fractions = own_rule_fractions(data["choices"])
        for choice, fraction in zip(data["choices"], fractions, strict=True):
            _answer(element, fraction, choice["text"])
    elif calculated:
        _write_calculated(element, data)
    elif qtype in EXTRA_WRITERS:
        EXTRA_WRITERS[qtype](element, data)
    elif qtype == "true_false":
        _answer(element, 1.0 if data["answer"] else 0.0, "true", "moodle_auto_format")
        _answer(element, 0.0 if data["answer"] else 1.0, "false", "moodle_auto_format")
    elif qtype == "numeric":
        entries = [(1.0, data["answer"], data["tolerance"])]
        entries += [(p["fraction"], p["answer"], p["tolerance"]) for p in data.get("partial") or []]
        for fraction, value, tol in entries:
            answer = _answer(element, fraction, repr(float(value)), "moodle_auto_format")
            # Moodle's tolerance is absolute: the same allowance for this fixed answer.
            allowed = max(tol["abs"], tol["rel"] * abs(value))
            SubElement(answer, "tolerance").text = repr(float(allowed))
        if data.get("unit"):
            unit = SubElement(SubElement(element, "units"), "unit")
            SubElement(unit, "multiplier").text = "1"
            SubElement(unit, "unit_name").text = data["unit"]
        SubElement(element, "unitgradingtype").text = "0"
        SubElement(element, "showunits").text = "3"
    else:
        SubElement(element, "usecase").text = "1" if data.get("case_sensitive") else "0"
        for accepted in data["accept"]:
            _answer(element, 1.0, accepted.replace("*", "\\*"), "moodle_auto_format")
        for part in data.get("partial") or []:
            _answer(
                element, part["fraction"], part["accept"].replace("*", "\\*"), "moodle_auto_format"
            )
        if data["patterns"]:
            holder = SubElement(element, "holdout_patterns")
            for pattern in data["patterns"]:
                SubElement(holder, "pattern").text = pattern
    if question.get("tags"):
        tags = SubElement(element, "tags")
        for tag in question["tags"]:
            SubElement(SubElement(tags, "tag"), "text").text = tag


def _write_matching(element: Element, data: dict[str, Any]) -> None:
    SubElement(element, "shuffleanswers").text = "true"
    for left, right in [(p["left"], p["right"]) for p in data["pairs"]] + [
        ("", d) for d in data.get("distractors") or []
    ]:
        sub = _text_element(element, "subquestion", left)
        SubElement(SubElement(sub, "answer"), "text").text = right
    SubElement(element, "holdout_ids").text = " ".join(p["id"] for p in data["pairs"])


def _write_ordering(element: Element, data: dict[str, Any]) -> None:
    SubElement(element, "layouttype").text = "VERTICAL"
    SubElement(element, "selecttype").text = "ALL"
    for position, item in enumerate(data["items"], start=1):
        answer = SubElement(element, "answer", fraction=str(position), format=MARKDOWN)
        SubElement(answer, "text").text = item["text"]
    SubElement(element, "holdout_ids").text = " ".join(i["id"] for i in data["items"])


def _write_cloze(element: Element, data: dict[str, Any]) -> None:
    SubElement(element, "holdout_ids").text = " ".join(b["id"] for b in data["blanks"])


EXTRA_WRITERS = {"matching": _write_matching, "ordering": _write_ordering, "cloze": _write_cloze}
MOODLE_TYPES = {
    "single_choice": "multichoice",
    "multiple_choice": "multichoice",
    "true_false": "truefalse",
    "numeric": "numerical",
    "short_text": "shortanswer",
    "matching": "matching",
    "ordering": "ordering",
    "cloze": "cloze",
}
EXPORTED_TYPES = tuple(MOODLE_TYPES)


def export(questions: list[dict[str, Any]]) -> bytes:
    quiz = Element("quiz")
    for question in questions:
        if question["type"] in EXPORTED_TYPES:
            _export_one(quiz, question)
    indent(quiz)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(quiz, encoding="utf-8") + b"\n"
