"""QTI 1.2 (`questestinterop`), as Canvas exports quizzes and question banks, and as most older
tools write it.

Canvas names each item's kind in its metadata (`question_type`: multiple_choice_question,
true_false_question, multiple_answers_question, short_answer_question, numerical_question,
essay_question, file_upload_question, text_only_question, calculated_question, matching_question,
fill_in_multiple_blanks_question, multiple_dropdowns_question) and its points in
`points_possible`. Without that metadata the kind is read from the presentation (`response_lid`
with `rcardinality`, `response_str`, `response_num`). The key comes from `resprocessing`: each
`respcondition` that sets SCORE (to 100, or to the item's maximum) names the right response with
`varequal`; multiple answers are an `and` of `varequal` and `not`s; numerical answers are a
`varequal`, a `vargte`/`varlte` range or both (`or`): a range becomes its middle with half its
width as the tolerance. The general feedback (`itemfeedback` `general_fb`, or any itemfeedback
linked from a respcondition that does not depend on the answer) becomes the explanation.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element

from question_bank.interop.base import (
    Candidate,
    Item,
    Refusal,
    Refused,
    choices_with_fractions,
    guarded,
    number,
    tag_of,
)
from question_bank.interop.text import HTML, PLAIN, to_markdown, to_plain
from question_bank.interop.xmlsafe import child, children, descendants, local, text

CANVAS_REFUSED = {
    "essay_question": "an essay is graded by a person, not by holdout",
    "file_upload_question": "a file upload is graded by a person, not by holdout",
    "text_only_question": "a text-only item has no answer to grade",
    "calculated_question": "calculated questions (formula answers) are not imported",
}


def _metadata(item: Element) -> dict[str, str]:
    fields = {}
    for field in descendants(item, "qtimetadatafield"):
        fields[text(field, "fieldlabel").strip()] = text(field, "fieldentry").strip()
    return fields


def _material(element: Element | None, where: str, feedback: bool = False) -> str:
    """A material's text as Markdown (mattext's texttype says HTML or plain)."""
    if element is None:
        return ""
    parts = []
    for mattext in descendants(element, "mattext"):
        texttype = mattext.get("texttype", "text/plain").lower()
        fmt = HTML if "html" in texttype else PLAIN
        parts.append(to_markdown("".join(mattext.itertext()), fmt, where, feedback))
    for tag in ("matimage", "matvideo", "mataudio", "matapplet"):
        if not feedback and next(descendants(element, tag), None) is not None:
            raise Refusal(f"{where} shows {tag[3:]} material, which holdout cannot import")
    return "\n\n".join(p for p in parts if p)


def _material_plain(element: Element | None) -> str:
    if element is None:
        return ""
    return " ".join(
        to_plain("".join(m.itertext())) for m in descendants(element, "mattext")
    ).strip()


def _scoring(item: Element) -> list[tuple[Element, float]]:
    """Each respcondition with the score it sets (Set or Add), in order."""
    out = []
    for condition in descendants(item, "respcondition"):
        for setvar in children(condition, "setvar"):
            if setvar.get("varname", "SCORE").upper() in ("SCORE", "QUE_SCORE"):
                value = number(text(setvar) or "0", "a score")
                out.append((condition, value))
    return out


def _max_score(item: Element) -> float:
    for decvar in descendants(item, "decvar"):
        if decvar.get("varname", "SCORE").upper() in ("SCORE", "QUE_SCORE") and decvar.get(
            "maxvalue"
        ):
            return number(decvar.get("maxvalue"), "the maximum score") or 100.0
    return 100.0


def _labels(item: Element) -> tuple[list[str], list[Element]]:
    labels = list(descendants(item, "response_label"))
    return [label.get("ident", "") for label in labels], labels


def _positive_equals(condition: Element) -> list[str]:
    """The varequal values a condition requires (not those under <not>)."""
    found: list[str] = []

    def walk(node: Element, negated: bool) -> None:
        for sub in node:
            name = local(sub.tag)
            if name == "not":
                walk(sub, not negated)
            elif name == "varequal" and not negated:
                found.append(text(sub).strip())
            elif name in ("and", "or", "conditionvar"):
                walk(sub, negated)

    var = child(condition, "conditionvar")
    if var is not None:
        walk(var, False)
    return found


def _choice(item: Element, fields: dict[str, Any], multiple: bool) -> None:
    ids, labels = _labels(item)
    texts = [_material(label, "a choice") for label in labels]
    if len(ids) < 2 or any(not t for t in texts):
        raise Refusal("a choice question needs at least two choices, each with text")
    best = _max_score(item)
    scores = {i: 0.0 for i in ids}
    for condition, value in _scoring(item):
        required = [v for v in _positive_equals(condition) if v in scores]
        if multiple:
            if len(required) >= 1 and value > 0:
                fraction = 1 / len(required)
                for ident in required:
                    scores[ident] = max(scores[ident], fraction)
        elif len(required) == 1:
            scores[required[0]] = max(scores[required[0]], value / best)
    fractions = [scores[i] for i in ids]
    plain = [to_plain(t, PLAIN).lower().rstrip(".") for t in texts]
    if not multiple and sorted(plain) == ["false", "true"]:
        right = [p for p, f in zip(plain, fractions, strict=True) if f >= 1 - 1e-6]
        if len(right) != 1:
            raise Refusal("neither true nor false earns full marks")
        fields.update(type="true_false", answer=right[0] == "true")
        return
    if multiple:
        wrong = [i for i, f in enumerate(fractions) if f <= 0]
        ticks = [i for i, f in enumerate(fractions) if f > 0]
        if not ticks:
            raise Refusal("no choice is marked correct")
        # Canvas scores multiple answers as holdout's own rule does (each right tick 1/C, each
        # wrong tick -1/W); the respcondition only names which are right.
        fractions = [
            1 / len(ticks) if i in ticks else (-1 / len(wrong) if wrong else 0.0)
            for i in range(len(ids))
        ]
    qtype, choices = choices_with_fractions(texts, fractions, multiple)
    fields.update(type=qtype, choices=choices)


def _short_text(item: Element, fields: dict[str, Any]) -> None:
    accept: list[str] = []
    partial = []
    best = _max_score(item)
    for condition, value in _scoring(item):
        for answer in _positive_equals(condition):
            answer = to_plain(answer, PLAIN)
            if not answer or value <= 0:
                continue
            if value >= best - 1e-9:
                if answer not in accept:
                    accept.append(answer)
            else:
                partial.append({"accept": answer, "fraction": round(value / best, 7)})
    if not accept:
        raise Refusal("no answer earns full marks")
    fields.update(type="short_text", accept=accept)
    if partial:
        fields["partial"] = partial


def _numeric(item: Element, fields: dict[str, Any]) -> None:
    full: list[tuple[float, float]] = []
    best = _max_score(item)
    for condition, value in _scoring(item):
        if value < best - 1e-9:
            continue
        var = child(condition, "conditionvar")
        if var is None:
            continue
        exact = [text(e) for e in descendants(var, "varequal")]
        low = [number(text(e), "a range's start") for e in descendants(var, "vargte")]
        low += [number(text(e), "a range's start") for e in descendants(var, "vargt")]
        high = [number(text(e), "a range's end") for e in descendants(var, "varlte")]
        high += [number(text(e), "a range's end") for e in descendants(var, "varlt")]
        if low and high:
            a, b = min(low), max(high)
            if a > b:
                raise Refusal(f"the range {a:g}..{b:g} ends before it starts")
            centre = number(exact[0], "the answer") if exact else (a + b) / 2
            full.append((centre, max(centre - a, b - centre)))
        elif exact:
            full.append((number(exact[0], "the answer"), 0.0))
    if not full:
        raise Refusal("no answer earns full marks")
    if len(set(full)) > 1:
        raise Refusal(f"{len(set(full))} different answers earn full marks; holdout keeps one")
    fields.update(type="numeric", answer=full[0][0], tolerance={"abs": full[0][1], "rel": 0.0})


def _matching(item: Element, fields: dict[str, Any]) -> None:
    pairs: list[dict[str, Any]] = []
    rights: dict[str, str] = {}
    for response in descendants(item, "response_lid"):
        for label in descendants(response, "response_label"):
            rights[label.get("ident", "")] = _material_plain(label)
    right_of: dict[str, str] = {}
    for condition, value in _scoring(item):
        for var in descendants(condition, "varequal"):
            if value > 0:
                right_of[var.get("respident", "")] = text(var).strip()
    for response in descendants(item, "response_lid"):
        left = _material(child(response, "material"), "a matching item")
        chosen = right_of.get(response.get("ident", ""))
        if not left or chosen not in rights:
            raise Refusal("a matching item has no correct answer")
        pairs.append({"id": f"p{len(pairs) + 1}", "left": left, "right": rights[chosen]})
    if len(pairs) < 2:
        raise Refusal("a matching question needs at least two pairs")
    used = {p["right"] for p in pairs}
    fields.update(
        type="matching",
        pairs=pairs,
        distractors=sorted({r for r in rights.values() if r not in used}),
    )


def _kind(item: Element, meta: dict[str, str]) -> str:
    canvas = meta.get("question_type", "")
    if canvas:
        return canvas
    presentation = child(item, "presentation")
    if presentation is None:
        return "text_only_question"
    if next(descendants(presentation, "response_lid"), None) is not None:
        lids = list(descendants(presentation, "response_lid"))
        if len(lids) > 1:
            return "matching_question"
        multiple = lids[0].get("rcardinality", "Single").lower() == "multiple"
        return "multiple_answers_question" if multiple else "multiple_choice_question"
    fib = next(descendants(presentation, "render_fib"), None)
    if fib is not None and fib.get("fibtype", "String").lower() in ("decimal", "integer"):
        return "numerical_question"
    if next(descendants(presentation, "response_num"), None) is not None:
        return "numerical_question"
    if next(descendants(presentation, "response_str"), None) is not None:
        rows = fib.get("rows", "1") if fib is not None else "1"
        return "essay_question" if rows.isdigit() and int(rows) > 1 else "short_answer_question"
    return "unknown"


def _blanks(item: Element, fields: dict[str, Any], dropdowns: bool) -> None:
    """Canvas's fill in multiple blanks and multiple dropdowns: `[name]` in the text, one
    response_lid per name whose labels are the accepted answers (or the dropdown's options)."""
    presentation = child(item, "presentation")
    material = child(presentation, "material") if presentation is not None else None
    raw = (
        "".join("".join(m.itertext()) for m in descendants(material, "mattext"))
        if material is not None
        else ""
    )
    right: dict[str, set[str]] = {}
    for condition, value in _scoring(item):
        for var in descendants(condition, "varequal"):
            if value > 0:
                right.setdefault(var.get("respident", ""), set()).add(text(var).strip())
    blanks: list[dict[str, Any]] = []
    for response in descendants(item, "response_lid"):
        name = _material_plain(child(response, "material"))
        ident = f"b{len(blanks) + 1}"
        options = [
            (label.get("ident", ""), _material_plain(label))
            for label in descendants(response, "response_label")
        ]
        good = right.get(response.get("ident", ""), set())
        if f"[{name}]" not in raw:
            raise Refusal(f"the blank [{name}] is not in the text")
        raw = raw.replace(f"[{name}]", f"HOLDOUTBLANK{ident}Z", 1)
        if dropdowns:
            fractions = [1.0 if i in good else 0.0 for i, _ in options]
            _, choices = choices_with_fractions([t for _, t in options], fractions, multiple=False)
            blanks.append({"id": ident, "kind": "choice", "choices": choices, "points": 1.0})
        else:
            accept = [t for i, t in options if i in good and t]
            if not accept:
                raise Refusal(f"the blank [{name}] has no accepted answer")
            blanks.append({"id": ident, "kind": "short_text", "accept": accept, "points": 1.0})
    if not blanks:
        raise Refusal("a question with blanks but no blanks in it")
    prompt = to_markdown(raw, HTML, "the prompt")
    for blank in blanks:
        prompt = prompt.replace(f"HOLDOUTBLANK{blank['id']}Z", "{{blank:" + blank["id"] + "}}")
    fields.update(type="cloze", prompt=prompt, blanks=blanks)


READERS = {
    "fill_in_multiple_blanks_question": lambda i, f: _blanks(i, f, dropdowns=False),
    "multiple_dropdowns_question": lambda i, f: _blanks(i, f, dropdowns=True),
    "multiple_choice_question": lambda i, f: _choice(i, f, multiple=False),
    "true_false_question": lambda i, f: _choice(i, f, multiple=False),
    "multiple_answers_question": lambda i, f: _choice(i, f, multiple=True),
    "short_answer_question": _short_text,
    "numerical_question": _numeric,
    "matching_question": _matching,
}


def _explanation(item: Element) -> str:
    parts = []
    for feedback in descendants(item, "itemfeedback"):
        if feedback.get("ident", "") in ("general_fb", "general_feedback", "correct_fb"):
            parts.append(_material(feedback, "the feedback", feedback=True))
    return "\n\n".join(p for p in parts if p)


def _item(item: Element, tags: list[str]) -> Item:
    meta = _metadata(item)
    title = to_plain(item.get("title", ""), PLAIN)
    name = title or item.get("ident", "item")
    kind = _kind(item, meta)
    label = f"{name} ({kind})"
    if kind in CANVAS_REFUSED:
        return Refused(label, CANVAS_REFUSED[kind])
    if kind not in READERS:
        return Refused(label, f"the item kind {kind!r} is not one holdout grades")
    return guarded(label, lambda: _candidate(item, tags, meta, kind, label))


def _candidate(
    item: Element, tags: list[str], meta: dict[str, str], kind: str, label: str
) -> Candidate:
    title = to_plain(item.get("title", ""), PLAIN)
    presentation = child(item, "presentation")
    prompt_material = child(presentation, "material") if presentation is not None else None
    if prompt_material is None and presentation is not None:
        flow = next(descendants(presentation, "material"), None)
        prompt_material = flow
    fields: dict[str, Any] = {
        "title": title,
        "prompt": _material(prompt_material, "the prompt"),
        "explanation": _explanation(item),
        "tags": list(tags),
    }
    points = meta.get("points_possible")
    if points:
        value = number(points, "the points")
        if value > 0:
            fields["points"] = value
    READERS[kind](item, fields)
    if not fields["prompt"]:
        raise Refusal("the item has no text")
    if _generic(title):
        # Canvas calls every item "Question": the prompt makes the title, its id the slug.
        fields["title"] = ""
        return Candidate(name=label, fields=fields, slug_hint=item.get("ident", "") or title)
    return Candidate(name=label, fields=fields, slug_hint=title)


def _generic(title: str) -> bool:
    return re.fullmatch(r"(question|frage|pregunta|item)?\s*\d*", title.strip().lower()) is not None


def read_root(root: Element, filename: str) -> list[Item]:
    items: list[Item] = []

    def walk(node: Element, tags: list[str]) -> None:
        for sub in node:
            name = local(sub.tag)
            if name == "item":
                items.append(_item(sub, tags))
            elif name in ("assessment", "section", "objectbank"):
                title = sub.get("title", "")
                tag = tag_of(title) if title and sub.get("ident") != "root_section" else None
                walk(sub, [*tags, tag] if tag else tags)

    walk(root, [])
    return items
