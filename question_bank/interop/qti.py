"""IMS QTI (1EdTech Question and Test Interoperability): 2.1/2.2 and 3.0 items, content packages
(a zip with `imsmanifest.xml`), and QTI 1.2 as Canvas exports it (question_bank.interop.qti12).

QTI 2.x and 3.0 say the same things with different spellings (`choiceInteraction`,
`responseIdentifier` against `qti-choice-interaction`, `response-identifier`); one reader serves
both through a `Dialect`. An item whose elements belong to the other version than its namespace
says is refused. What holdout grades:

- choiceInteraction: single choice (`cardinality="single"`), multiple choice, true/false (two
  choices, "True" and "False"); the key from `correctResponse`, or per-choice fractions from the
  `mapping` (mapped value over the upper bound, or over the best total) when the response
  processing maps the response (template `map_response`, or a mapping and no template).
- textEntryInteraction: a string response is a short answer (every correct value, mapped values
  at the top as accepted answers, lower ones as partial credit, `caseSensitive`); a float or
  integer response is numeric, its tolerance read from an `equal` in custom response processing
  (`toleranceMode` absolute or relative).
- Several textEntry and inlineChoice interactions in one item: a cloze question.
- matchInteraction and orderInteraction: matching and ordering.
Refused by name: extendedText (essay), upload, drawing, hotspot and the other graphic
interactions, gap match, slider, custom and portable custom interactions.

Export writes a QTI 2.1 content package. Other systems read standard items (match_correct and
map_response templates, tolerance in custom processing); the bank's own Markdown texts, tags and
regular-expression answers travel in the manifest's resource metadata, so holdout reads its own
packages back as they were.
"""

from __future__ import annotations

import html as html_lib
import io
import json
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, SubElement, indent, register_namespace, tostring

from markdown_it import MarkdownIt

from question_bank.interop import qti12
from question_bank.interop.base import (
    Candidate,
    FileError,
    Item,
    Refusal,
    Refused,
    choices_with_fractions,
    guarded,
    merge_tags,
    number,
    own_rule_fractions,
)
from question_bank.interop.text import HTML, to_markdown, to_plain
from question_bank.interop.xmlsafe import MAX_XML_BYTES, inner_html, local, namespace, parse_xml

NAME = "qti"
QTI2 = (
    "http://www.imsglobal.org/xsd/imsqti_v2p0",
    "http://www.imsglobal.org/xsd/imsqti_item_v2p0",
    "http://www.imsglobal.org/xsd/imsqti_v2p1",
    "http://www.imsglobal.org/xsd/imsqti_v2p2",
)
QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
HOLDOUT_NS = "urn:holdout:question-bank:1"
MAX_ZIP_ENTRIES = 5000
MAX_ZIP_BYTES = 128 * 1024 * 1024

# Element names of QTI 2 that QTI 3 spells qti-…: one under the other's namespace is refused.
QTI2_NAMES = {
    "assessmentItem", "responseDeclaration", "outcomeDeclaration", "correctResponse", "mapping",
    "mapEntry", "itemBody", "choiceInteraction", "simpleChoice", "textEntryInteraction",
    "extendedTextInteraction", "responseProcessing", "modalFeedback", "feedbackBlock",
    "feedbackInline", "inlineChoiceInteraction", "inlineChoice", "matchInteraction",
    "simpleMatchSet", "simpleAssociableChoice", "orderInteraction", "prompt", "value",
    "defaultValue", "responseCondition", "responseIf", "setOutcomeValue",
}  # fmt: skip
REFUSED_INTERACTIONS = {
    "extendedTextInteraction": "an essay (extended text) is graded by a person, not by holdout",
    "uploadInteraction": "a file upload is graded by a person, not by holdout",
    "drawingInteraction": "a drawing is graded by a person, not by holdout",
    "mediaInteraction": "a media interaction has no answer to grade",
    "hotspotInteraction": "hotspots on an image are not a type holdout grades",
    "graphicOrderInteraction": "ordering on an image is not a type holdout grades",
    "graphicAssociateInteraction": "associating on an image is not a type holdout grades",
    "graphicGapMatchInteraction": "gap match on an image is not a type holdout grades",
    "selectPointInteraction": "selecting a point on an image is not a type holdout grades",
    "positionObjectInteraction": "positioning objects is not a type holdout grades",
    "gapMatchInteraction": "gap match is not a type holdout grades",
    "hottextInteraction": "hot text is not a type holdout grades",
    "sliderInteraction": "a slider is not a type holdout grades",
    "associateInteraction": "associating pairs freely is not a type holdout grades",
    "customInteraction": "a custom interaction runs code holdout does not know",
    "portableCustomInteraction": "a portable custom interaction runs code holdout does not know",
}
# Buttons and media players next to the real interaction: nothing to grade, nothing lost.
IGNORED_INTERACTIONS = {"endAttemptInteraction"}
SKIPPED_IN_BODY = {"feedbackBlock", "feedbackInline", "modalFeedback", "rubricBlock"}


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"-\1", name).lower()


@dataclass(frozen=True)
class Dialect:
    version: str
    namespaces: tuple[str, ...]

    def element(self, name: str) -> str:
        return name if self.version == "2" else "qti-" + _kebab(name)

    def attr(self, name: str) -> str:
        return name if self.version == "2" else _kebab(name)

    def canonical(self, local_name: str) -> str:
        """The QTI 2 spelling of an element name (`qti-choice-interaction` → choiceInteraction)."""
        if self.version == "2" or not local_name.startswith("qti-"):
            return local_name
        head, *rest = local_name[4:].split("-")
        return head + "".join(part.capitalize() for part in rest)


V2 = Dialect("2", QTI2)
V3 = Dialect("3", (QTI3,))


def _dialect(root: Element) -> Dialect | None:
    ns = namespace(root.tag)
    if ns in QTI2:
        return V2
    if ns == QTI3:
        return V3
    if not ns:
        return V3 if local(root.tag).startswith("qti-") else V2
    return None


class _Item:
    """One QTI 2/3 item, read through its dialect."""

    def __init__(self, root: Element, dialect: Dialect) -> None:
        self.root = root
        self.d = dialect
        self._check_versions()

    def _check_versions(self) -> None:
        ns_label = "QTI 2" if self.d.version == "2" else "QTI 3.0"
        for element in self.root.iter():
            name = local(element.tag)
            if namespace(element.tag) not in (*self.d.namespaces, ""):
                continue
            if self.d.version == "2" and name.startswith("qti-"):
                raise Refusal(f"the QTI 3 element <{name}> is under the {ns_label} namespace")
            if self.d.version == "3" and name in QTI2_NAMES:
                raise Refusal(f"the QTI 2 element <{name}> is under the {ns_label} namespace")

    def name(self, element: Element) -> str:
        return self.d.canonical(local(element.tag))

    def get(self, element: Element, attr: str, default: str = "") -> str:
        return element.get(self.d.attr(attr), default)

    def find(self, element: Element, name: str) -> list[Element]:
        return [e for e in element if self.name(e) == name]

    def first(self, element: Element | None, name: str) -> Element | None:
        if element is None:
            return None
        return next((e for e in element if self.name(e) == name), None)

    def all(self, name: str) -> list[Element]:
        return [e for e in self.root.iter() if self.name(e) == name]

    def values(self, element: Element | None) -> list[str]:
        if element is None:
            return []
        return [to_plain("".join(v.itertext()), "plain_text") for v in self.find(element, "value")]

    def declaration(self, ident: str) -> Element:
        for decl in self.find(self.root, "responseDeclaration"):
            if self.get(decl, "identifier") == ident:
                return decl
        raise Refusal(f"the interaction's response {ident!r} is not declared")

    def mapping(
        self, decl: Element
    ) -> tuple[dict[str, float], dict[str, bool], float | None, float]:
        """(mapped values, case sensitivity per key, upper bound, default value)."""
        found = self.first(decl, "mapping")
        if found is None:
            return {}, {}, None, 0.0
        values: dict[str, float] = {}
        case: dict[str, bool] = {}
        for entry in self.find(found, "mapEntry"):
            key = self.get(entry, "mapKey")
            values[key] = number(self.get(entry, "mappedValue", "0"), "a mapped value")
            case[key] = self.get(entry, "caseSensitive", "true").lower() != "false"
        upper = self.get(found, "upperBound")
        default = number(self.get(found, "defaultValue", "0") or "0", "the default value")
        return values, case, (number(upper, "the upper bound") if upper else None), default

    def processing(self) -> str:
        """'correct', 'map' or 'custom'."""
        rp = self.first(self.root, "responseProcessing")
        if rp is None:
            return "none"
        template = self.get(rp, "template") or self.get(rp, "templateLocation")
        if "match_correct" in template:
            return "correct"
        if "map_response" in template:
            return "map"
        return "custom"

    def tolerance(self, response: str = "") -> dict[str, float]:
        """The tolerance of the first `equal` (on this response, when named)."""
        for equal in self.all("equal"):
            variables = [
                self.get(v, "identifier") for v in equal.iter() if self.name(v) == "variable"
            ]
            if response and variables and response not in variables:
                continue
            mode = self.get(equal, "toleranceMode", "exact")
            parts = self.get(equal, "tolerance", "0").split()
            value = abs(number(parts[0] if parts else "0", "the tolerance"))
            if mode == "absolute":
                return {"abs": value, "rel": 0.0}
            if mode == "relative":
                return {"abs": 0.0, "rel": value / 100}
        return {"abs": 0.0, "rel": 0.0}

    def html(self, element: Element) -> str:
        skip = {self.d.element(n) for n in SKIPPED_IN_BODY} | set(SKIPPED_IN_BODY)
        return inner_html(element, skip)


def _points(item: _Item) -> float | None:
    for outcome in item.find(item.root, "outcomeDeclaration"):
        ident = item.get(outcome, "identifier")
        if ident == "MAXSCORE":
            value = item.values(item.first(outcome, "defaultValue"))
            if value:
                return number(value[0], "MAXSCORE")
        if ident == "SCORE" and item.get(outcome, "normalMaximum"):
            return number(item.get(outcome, "normalMaximum"), "the maximum score")
    return None


def _choice(item: _Item, interaction: Element, fields: dict[str, Any]) -> dict[str, str]:
    decl = item.declaration(item.get(interaction, "responseIdentifier"))
    cardinality = item.get(decl, "cardinality", "single")
    choices = item.find(interaction, "simpleChoice")
    ids = [item.get(c, "identifier") for c in choices]
    texts = [to_markdown(item.html(c), HTML, "a choice") for c in choices]
    if any(not t for t in texts):
        raise Refusal("a choice has no text")
    correct = set(item.values(item.first(decl, "correctResponse")))
    mapped, _, upper, default = item.mapping(decl)
    mode = item.processing()
    use_map = bool(mapped) and (mode == "map" or (mode in ("none", "custom") and not correct))
    multiple = cardinality == "multiple"
    if use_map:
        raw = [mapped.get(i, default) for i in ids]
        best = (
            upper if upper is not None else (sum(v for v in raw if v > 0) if multiple else max(raw))
        )
        if best <= 0:
            raise Refusal("no choice earns any marks")
        fractions = [max(-1.0, min(1.0, v / best)) for v in raw]
    else:
        if not correct:
            raise Refusal("the response has no correct value")
        unknown = correct - set(ids)
        if unknown:
            raise Refusal(f"the correct response names unknown choices {sorted(unknown)}")
        if multiple:
            wrong = len(ids) - len(correct)
            fractions = [
                1 / len(correct) if i in correct else (-1 / wrong if wrong else 0.0) for i in ids
            ]
        else:
            fractions = [1.0 if i in correct else 0.0 for i in ids]
    plain = [to_plain(t, "plain_text").lower().rstrip(".") for t in texts]
    if not multiple and sorted(plain) == ["false", "true"]:
        key = (
            next(p for p, f in zip(plain, fractions, strict=True) if f >= 1 - 1e-6)
            if max(fractions) >= 1 - 1e-6
            else None
        )
        if key is None:
            raise Refusal("neither true nor false earns full marks")
        fields.update(type="true_false", answer=key == "true")
        return {}
    qtype, converted = choices_with_fractions(texts, fractions, multiple)
    renamed: dict[str, str] = {}
    if len(set(ids)) == len(ids) and all(re.fullmatch(ID, i) for i in ids):
        for choice, ident in zip(converted, ids, strict=True):
            renamed[choice["id"]] = ident
            choice["id"] = ident
    fields.update(type=qtype, choices=converted, shuffle=item.get(interaction, "shuffle") == "true")
    return renamed


def _text_entry(item: _Item, interaction: Element, fields: dict[str, Any]) -> None:
    decl = item.declaration(item.get(interaction, "responseIdentifier"))
    base = item.get(decl, "baseType", "string")
    correct = item.values(item.first(decl, "correctResponse"))
    mapped, case, upper, _ = item.mapping(decl)
    if base in ("float", "integer"):
        if not correct:
            raise Refusal("the numeric response has no correct value")
        if len(set(correct)) > 1:
            raise Refusal(f"{len(set(correct))} different correct values; holdout keeps one")
        fields.update(
            type="numeric",
            answer=number(correct[0], "the correct value"),
            tolerance=item.tolerance(item.get(interaction, "responseIdentifier")),
        )
        return
    if base != "string":
        raise Refusal(f"a text entry with a {base} response is not one holdout grades")
    best = upper if upper is not None else max(mapped.values(), default=0.0)
    accept = [c for c in correct if c]
    partial = []
    for key, value in mapped.items():
        if best > 0 and value >= best - 1e-9:
            if key not in accept:
                accept.append(key)
        elif best > 0 and value > 0:
            partial.append({"accept": key, "fraction": round(value / best, 7)})
    if not accept:
        raise Refusal("no answer earns full marks")
    fields.update(type="short_text", accept=accept)
    # A mapping says per entry; QTI's match of strings (match_correct) is case sensitive.
    if any(case.get(a, False) for a in accept) if mapped else item.processing() == "correct":
        fields["case_sensitive"] = True
    if partial:
        fields["partial"] = partial


def _inline_choice_blank(item: _Item, interaction: Element, ident: str) -> dict[str, Any]:
    decl = item.declaration(item.get(interaction, "responseIdentifier"))
    correct = set(item.values(item.first(decl, "correctResponse")))
    options = item.find(interaction, "inlineChoice")
    texts = [to_plain("".join(o.itertext()), "plain_text") for o in options]
    fractions = [1.0 if item.get(o, "identifier") in correct else 0.0 for o in options]
    _, choices = choices_with_fractions(texts, fractions, multiple=False)
    idents = [item.get(o, "identifier") for o in options]
    if len(set(idents)) == len(idents) and all(re.fullmatch(ID, i) for i in idents):
        for choice, ident_of_option in zip(choices, idents, strict=True):
            choice["id"] = ident_of_option
    blank = {"id": ident, "kind": "choice", "choices": choices, "points": 1.0}
    if item.get(interaction, "shuffle") == "true":
        blank["shuffle"] = True
    return blank


def _cloze(item: _Item, body: Element, interactions: list[Element], fields: dict[str, Any]) -> None:
    blanks: list[dict[str, Any]] = []
    markers: dict[int, str] = {}
    for interaction in interactions:
        ident = _own_id(item.get(interaction, "responseIdentifier"), f"b{len(blanks) + 1}", blanks)
        if item.name(interaction) == "inlineChoiceInteraction":
            blanks.append(_inline_choice_blank(item, interaction, ident))
        else:
            sub: dict[str, Any] = {}
            _text_entry(item, interaction, sub)
            kind = sub.pop("type")
            blanks.append({"id": ident, "kind": kind, "points": 1.0, **sub})
        markers[id(interaction)] = ident
    html = _html_with_markers(item, body, markers)
    prompt = to_markdown(html, HTML, "the prompt")
    for ident in markers.values():
        prompt = prompt.replace(f"HOLDOUTBLANK{ident}Z", "{{blank:" + ident + "}}")
    fields.update(type="cloze", prompt=prompt, blanks=blanks)


def _html_with_markers(item: _Item, element: Element, markers: dict[int, str]) -> str:
    parts = [html_lib.escape(element.text or "", quote=False)]
    for node in element:
        if id(node) in markers:
            parts.append(f"HOLDOUTBLANK{markers[id(node)]}Z")
        elif item.name(node) not in SKIPPED_IN_BODY and local(node.tag):
            name = local(node.tag)
            parts.append(f"<{name}>{_html_with_markers(item, node, markers)}</{name}>")
        parts.append(html_lib.escape(node.tail or "", quote=False))
    return "".join(parts)


def _matching(item: _Item, interaction: Element, fields: dict[str, Any]) -> None:
    decl = item.declaration(item.get(interaction, "responseIdentifier"))
    sets = item.find(interaction, "simpleMatchSet")
    if len(sets) != 2:
        raise Refusal("a match interaction needs two sets of choices")
    lefts = {
        item.get(c, "identifier"): to_markdown(item.html(c), HTML, "an item")
        for c in item.find(sets[0], "simpleAssociableChoice")
    }
    rights = {
        item.get(c, "identifier"): to_plain(item.html(c))
        for c in item.find(sets[1], "simpleAssociableChoice")
    }
    pairs: list[dict[str, Any]] = []
    used: set[str] = set()
    for value in item.values(item.first(decl, "correctResponse")):
        left, _, right = value.partition(" ")
        if left not in lefts or right.strip() not in rights:
            raise Refusal(f"the correct pair {value!r} names unknown choices")
        pairs.append(
            {
                "id": _own_id(left, f"p{len(pairs) + 1}", pairs),
                "left": lefts[left],
                "right": rights[right.strip()],
            }
        )
        used.add(right.strip())
    if len(pairs) < 2:
        raise Refusal("a matching question needs at least two correct pairs")
    fields.update(
        type="matching", pairs=pairs, distractors=[t for i, t in rights.items() if i not in used]
    )


def _ordering(item: _Item, interaction: Element, fields: dict[str, Any]) -> None:
    decl = item.declaration(item.get(interaction, "responseIdentifier"))
    texts = {
        item.get(c, "identifier"): to_markdown(item.html(c), HTML, "an item")
        for c in item.find(interaction, "simpleChoice")
    }
    order = item.values(item.first(decl, "correctResponse"))
    if sorted(order) != sorted(texts):
        raise Refusal("the correct order does not list every item once")
    items: list[dict[str, Any]] = []
    for n, ident in enumerate(order):
        items.append({"id": _own_id(ident, f"i{n + 1}", items), "text": texts[ident]})
    fields.update(type="ordering", items=items)


def _own_id(ident: str, fallback: str, taken: list[dict[str, Any]]) -> str:
    """The file's identifier when the bank can use it as an id, else `fallback`."""
    used = {entry["id"] for entry in taken}
    if re.fullmatch(ID, ident) and ident not in used:
        return ident
    return fallback


def _item(root: Element, dialect: Dialect) -> tuple[str, dict[str, Any], dict[str, str]]:
    item = _Item(root, dialect)
    body = item.first(root, "itemBody")
    if body is None:
        raise Refusal("the item has no itemBody")
    interactions = [
        e
        for e in body.iter()
        if item.name(e).endswith("Interaction") and item.name(e) not in IGNORED_INTERACTIONS
    ]
    for interaction in interactions:
        kind = item.name(interaction)
        if kind in REFUSED_INTERACTIONS:
            raise Refusal(REFUSED_INTERACTIONS[kind])
    if not interactions:
        raise Refusal("the item has no interaction: nothing to answer")
    fields: dict[str, Any] = {"title": to_plain(item.get(root, "title"), "plain_text")}
    points = _points(item)
    if points is not None and points > 0:
        fields["points"] = points
    renamed: dict[str, str] = {}
    kinds = {item.name(i) for i in interactions}
    if len(interactions) > 1:
        if not kinds <= {"textEntryInteraction", "inlineChoiceInteraction"}:
            raise Refusal(f"{len(interactions)} interactions of kinds {sorted(kinds)} in one item")
        _cloze(item, body, interactions, fields)
    else:
        interaction = interactions[0]
        kind = item.name(interaction)
        skip = {interaction}
        prompt_html = _body_without(item, body, skip)
        inner_prompt = item.first(interaction, "prompt")
        if inner_prompt is not None:
            prompt_html += item.html(inner_prompt)
        if kind == "choiceInteraction":
            renamed = _choice(item, interaction, fields)
        elif kind == "textEntryInteraction":
            _text_entry(item, interaction, fields)
            prompt_html = _html_with_markers(item, body, {id(interaction): "x"}).replace(
                "HOLDOUTBLANKxZ", "_____"
            )
        elif kind == "inlineChoiceInteraction":
            _cloze(item, body, interactions, fields)
        elif kind == "matchInteraction":
            _matching(item, interaction, fields)
        elif kind == "orderInteraction":
            _ordering(item, interaction, fields)
        else:
            raise Refusal(f"the interaction {local(interaction.tag)} is not one holdout grades")
        if "prompt" not in fields:
            fields["prompt"] = to_markdown(prompt_html, HTML, "the prompt")
    feedback = [
        to_markdown(item.html(m), HTML, "the feedback", feedback=True)
        for m in item.find(root, "modalFeedback")
    ]
    fields["explanation"] = "\n\n".join(f for f in feedback if f)
    name = fields["title"] or item.get(root, "identifier") or "item"
    return name, fields, renamed


def _body_without(item: _Item, body: Element, skip: set[Element]) -> str:
    parts = [html_lib.escape(body.text or "", quote=False)]
    for node in body:
        if node not in skip and item.name(node) not in SKIPPED_IN_BODY:
            if any(n in skip for n in node.iter()):
                name = local(node.tag)
                parts.append(f"<{name}>{_body_without(item, node, skip)}</{name}>")
            else:
                parts.append(item.html(_wrap(node)))
        parts.append(html_lib.escape(node.tail or "", quote=False))
    return "".join(parts)


def _wrap(node: Element) -> Element:
    holder = Element("div")
    holder.append(_detached(node))
    return holder


def _detached(node: Element) -> Element:
    copy = Element(node.tag, node.attrib)
    copy.text = node.text
    for sub in node:
        copy.append(_detached(sub))
        copy[-1].tail = sub.tail
    return copy


def _read_item(root: Element, label: str, overrides: dict[str, Any] | None) -> Item:
    dialect = _dialect(root)
    name = root.get("title") or root.get("identifier") or label
    if dialect is None:
        return Refused(name, f"the namespace {namespace(root.tag)!r} is not QTI 2.x or 3.0")

    def build() -> Candidate:
        title, fields, renamed = _item(root, dialect)
        ident = root.get("identifier", "")
        if overrides:
            _apply_overrides(fields, overrides, renamed)
            ident = overrides.get("slug") or ident
        return Candidate(name=title, fields=fields, slug_hint=ident or title)

    return guarded(name, build)


def _apply_overrides(
    fields: dict[str, Any], overrides: dict[str, Any], renamed: dict[str, str]
) -> None:
    """holdout's own export: the Markdown texts and what QTI cannot say, as they were written."""
    for key in ("title", "prompt", "explanation", "unit"):
        if isinstance(overrides.get(key), str):
            fields[key] = overrides[key]
    if isinstance(overrides.get("tags"), list):
        fields["tags"] = merge_tags([t for t in overrides["tags"] if isinstance(t, str)])
    if isinstance(overrides.get("patterns"), list) and fields.get("type") == "short_text":
        fields["patterns"] = [p for p in overrides["patterns"] if isinstance(p, str)]
    extra = overrides.get("blanks")
    if isinstance(extra, dict) and isinstance(fields.get("blanks"), list):
        for blank in fields["blanks"]:
            known = extra.get(blank["id"])
            if isinstance(known, dict):
                blank.update({k: v for k, v in known.items() if k in BLANK_EXTRAS})
    for key, entries, field in (
        ("choices", fields.get("choices"), "text"),
        ("pairs", fields.get("pairs"), "left"),
        ("items", fields.get("items"), "text"),
    ):
        texts = overrides.get(key)
        if isinstance(texts, dict) and isinstance(entries, list):
            for entry in entries:
                if isinstance(texts.get(entry["id"]), str):
                    entry[field] = texts[entry["id"]]


ID = r"[A-Za-z0-9_-]{1,16}"  # the bank's ids of choices, pairs, items and blanks
# What a QTI cloze item does not say about a blank, carried for holdout's own packages.
BLANK_EXTRAS = ("points", "patterns", "unit", "partial", "case_sensitive")


def _root_kind(root: Element) -> str:
    name = local(root.tag)
    if name == "questestinterop":
        return "qti12"
    if name in ("assessmentItem", "qti-assessment-item"):
        return "item"
    if name in (
        "assessmentTest",
        "qti-assessment-test",
        "assessmentSection",
        "qti-assessment-section",
    ):
        return "test"
    return ""


def _read_xml(data: bytes, filename: str, overrides: dict[str, Any] | None = None) -> list[Item]:
    root = parse_xml(data, filename)
    kind = _root_kind(root)
    if kind == "qti12":
        return qti12.read_root(root, filename)
    if kind == "item":
        return [_read_item(root, filename, overrides)]
    if kind == "test":
        return []  # a test lists items; a package carries them as their own resources
    raise FileError(f"{filename}: <{local(root.tag)}> is not a QTI item, test or questestinterop")


# What a damaged zip raises while a member is read.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    ValueError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    KeyError,
    OverflowError,
    struct.error,
    zlib.error,
)


def _zip_member(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = archive.getinfo(name)
        if info.file_size > MAX_XML_BYTES:
            raise FileError(f"{name} in the package is larger than {MAX_XML_BYTES >> 20} MiB")
        with archive.open(info) as handle:
            data = handle.read(MAX_XML_BYTES + 1)
    except ZIP_ERRORS as exc:
        raise FileError(f"{name} in the package cannot be read: {exc}") from None
    if len(data) > MAX_XML_BYTES:
        raise FileError(f"{name} in the package is larger than it says")
    return data


def _resolve(base: str, href: str) -> str:
    parts: list[str] = []
    for piece in (base.rsplit("/", 1)[0] + "/" + href if "/" in base else href).split("/"):
        if piece in ("", "."):
            continue
        if piece == "..":
            if parts:
                parts.pop()
            continue
        parts.append(piece)
    return "/".join(parts)


def _read_package(data: bytes, filename: str) -> list[Item]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except ZIP_ERRORS as exc:
        raise FileError(f"{filename}: not a readable zip file: {exc}") from None
    if len(infos) > MAX_ZIP_ENTRIES:
        raise FileError(f"{filename}: more than {MAX_ZIP_ENTRIES} files in the package")
    if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
        raise FileError(
            f"{filename}: the package unpacks to more than {MAX_ZIP_BYTES // (1024 * 1024)} MiB"
        )
    names = {i.filename for i in infos}
    manifest_name = next((n for n in names if n.rsplit("/", 1)[-1] == "imsmanifest.xml"), None)
    if manifest_name is None:
        raise FileError(f"{filename}: a zip without imsmanifest.xml is not a content package")
    try:
        manifest = parse_xml(_zip_member(archive, manifest_name), f"{filename}: imsmanifest.xml")
        items: list[Item] = []
        seen: set[str] = set()
        for resource in (e for e in manifest.iter() if local(e.tag) == "resource"):
            rtype = resource.get("type", "")
            files = [f.get("href", "") for f in resource.iter() if local(f.tag) == "file"]
            # Some writers name the item only in the resource's <file> list.
            href = resource.get("href", "") or next((f for f in files if f.endswith(".xml")), "")
            if "qti" not in rtype.lower() or not href:
                continue
            path = _resolve(manifest_name, href)
            if path in seen:
                continue
            seen.add(path)
            if path not in names:
                items.append(
                    Refused(href, "the manifest lists this file, but the package lacks it")
                )
                continue
            overrides = _holdout_metadata(resource)
            try:
                items.extend(
                    _read_xml(_zip_member(archive, path), f"{filename}: {path}", overrides)
                )
            except FileError as exc:
                items.append(Refused(href, str(exc)))
    except ZIP_ERRORS as exc:
        raise FileError(f"{filename}: cannot read the package: {exc}") from None
    return items


def _holdout_metadata(resource: Element) -> dict[str, Any] | None:
    for element in resource.iter():
        if element.tag == f"{{{HOLDOUT_NS}}}question":
            try:
                value = json.loads("".join(element.itertext()))
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def sniff(data: bytes, filename: str) -> bool:
    if data[:4] == b"PK\x03\x04":
        return True
    head = data[:65536]
    return (
        re.search(rb"<(questestinterop|assessmentItem|qti-assessment-item)[\s>]", head) is not None
    )


def read(data: bytes, filename: str) -> list[Item]:
    if data[:4] == b"PK\x03\x04":
        return _read_package(data, filename)
    return _read_xml(data, filename)


# Export: a QTI 2.1 content package ----------------------------------------------------------

QTI21 = QTI2[1]
TEMPLATES = "http://www.imsglobal.org/question/qti_v2p1/rptemplates/"
_md = MarkdownIt("commonmark", {"html": False}).enable("table")


def _xhtml(parent: Element, markdown: str) -> None:
    """Markdown rendered as XHTML inside `parent` (math left as its TeX, for MathJax)."""
    rendered = _md.render(markdown)
    wrapper = parse_xml(f"<div>{_xml_safe(rendered)}</div>".encode(), "rendered text")
    parent.text = wrapper.text
    for node in wrapper:
        parent.append(_in_qti(node))


def _xml_safe(html_text: str) -> str:
    return re.sub(r"<(br|hr|img)([^>]*?)\s*/?>", r"<\1\2/>", html_text)


def _in_qti(node: Element) -> Element:
    copy = Element(f"{{{QTI21}}}{local(node.tag)}", node.attrib)
    copy.text, copy.tail = node.text, node.tail
    for sub in node:
        copy.append(_in_qti(sub))
    return copy


def _q(parent: Element, tag: str, **attrs: str) -> Element:
    return SubElement(parent, f"{{{QTI21}}}{tag}", attrs)


def _declaration(item: Element, cardinality: str, base: str, correct: list[str]) -> Element:
    decl = _q(
        item, "responseDeclaration", identifier="RESPONSE", cardinality=cardinality, baseType=base
    )
    values = _q(decl, "correctResponse")
    for value in correct:
        _q(values, "value").text = value
    return decl


def _outcomes(item: Element, points: float) -> None:
    score = _q(
        item, "outcomeDeclaration", identifier="SCORE", cardinality="single", baseType="float"
    )
    score.set("normalMaximum", repr(float(points)))
    _q(_q(score, "defaultValue"), "value").text = "0"
    maxscore = _q(
        item, "outcomeDeclaration", identifier="MAXSCORE", cardinality="single", baseType="float"
    )
    _q(_q(maxscore, "defaultValue"), "value").text = repr(float(points))


def _tolerance_processing(item: Element, tolerance: dict[str, float], answer: float) -> None:
    rp = _q(item, "responseProcessing")
    condition = _q(_q(rp, "responseCondition"), "responseIf")
    if tolerance["rel"] and not tolerance["abs"]:
        equal = _q(
            condition, "equal", toleranceMode="relative", tolerance=repr(tolerance["rel"] * 100)
        )
    else:
        allowed = max(tolerance["abs"], tolerance["rel"] * abs(answer))
        equal = _q(condition, "equal", toleranceMode="absolute", tolerance=repr(allowed))
    _q(equal, "variable", identifier="RESPONSE")
    _q(equal, "correct", identifier="RESPONSE")
    outcome = _q(condition, "setOutcomeValue", identifier="SCORE")
    _q(outcome, "variable", identifier="MAXSCORE")


def _cloze_declaration(item: Element, blank: dict[str, Any]) -> None:
    ident = blank["id"]
    if blank["kind"] == "numeric":
        decl = _q(item, "responseDeclaration", identifier=ident, cardinality="single")
        decl.set("baseType", "float")
        _q(_q(decl, "correctResponse"), "value").text = repr(float(blank["answer"]))
    elif blank["kind"] == "short_text":
        decl = _q(item, "responseDeclaration", identifier=ident, cardinality="single")
        decl.set("baseType", "string")
        _q(_q(decl, "correctResponse"), "value").text = blank["accept"][0]
        mapping = _q(decl, "mapping", defaultValue="0", upperBound="1")
        case = "true" if blank.get("case_sensitive") else "false"
        for accepted in blank["accept"]:
            _q(mapping, "mapEntry", mapKey=accepted, mappedValue="1", caseSensitive=case)
        for part in blank.get("partial") or []:
            entry = _q(mapping, "mapEntry", mapKey=part["accept"], caseSensitive=case)
            entry.set("mappedValue", repr(part["fraction"]))
    else:
        decl = _q(item, "responseDeclaration", identifier=ident, cardinality="single")
        decl.set("baseType", "identifier")
        right = next(c["id"] for c in blank["choices"] if c["correct"])
        _q(_q(decl, "correctResponse"), "value").text = right


def _cloze_body(body: Element, prompt: str, blanks: list[dict[str, Any]]) -> None:
    """The prompt as XHTML with each `{{blank:ID}}` an inline interaction."""
    marked = prompt
    for blank in blanks:
        marked = marked.replace("{{blank:" + blank["id"] + "}}", f"HOLDOUTBLANK{blank['id']}Z")
    holder = _q(body, "div")
    _xhtml(holder, marked)
    made = {f"HOLDOUTBLANK{b['id']}Z": b for b in blanks}
    pattern = re.compile("|".join(re.escape(t) for t in made))
    for element in list(holder.iter()):
        for attr in ("text", "tail"):
            value = getattr(element, attr)
            if not value or not pattern.search(value):
                continue
            pieces = pattern.split(value)
            tokens = pattern.findall(value)
            setattr(element, attr, pieces[0])
            parent = element if attr == "text" else _parent(holder, element)
            index = 0 if attr == "text" else list(parent).index(element) + 1
            for token, after in zip(tokens, pieces[1:], strict=True):
                interaction = _blank_interaction(made[token])
                interaction.tail = after
                parent.insert(index, interaction)
                index += 1


def _parent(root: Element, node: Element) -> Element:
    return next(p for p in root.iter() if node in list(p))


def _blank_interaction(blank: dict[str, Any]) -> Element:
    if blank["kind"] == "choice":
        interaction = Element(f"{{{QTI21}}}inlineChoiceInteraction", responseIdentifier=blank["id"])
        interaction.set("shuffle", "true" if blank.get("shuffle") else "false")
        for choice in blank["choices"]:
            option = SubElement(interaction, f"{{{QTI21}}}inlineChoice", identifier=choice["id"])
            option.text = choice["text"]
        return interaction
    return Element(f"{{{QTI21}}}textEntryInteraction", responseIdentifier=blank["id"])


def _cloze_processing(item: Element, blanks: list[dict[str, Any]]) -> None:
    """SCORE: the sum of each blank's points times what it earns (tolerance, mapping, match)."""
    rp = _q(item, "responseProcessing")
    for blank in blanks:
        points = repr(float(blank.get("points", 1.0)))
        if blank["kind"] == "short_text":
            outcome = _q(rp, "setOutcomeValue", identifier="SCORE")
            total = _q(outcome, "sum")
            _q(total, "variable", identifier="SCORE")
            product = _q(total, "product")
            _q(product, "mapResponse", identifier=blank["id"])
            _q(product, "baseValue", baseType="float").text = points
            continue
        condition = _q(_q(rp, "responseCondition"), "responseIf")
        if blank["kind"] == "numeric":
            tol = blank["tolerance"]
            allowed = max(tol["abs"], tol["rel"] * abs(blank["answer"]))
            test = _q(condition, "equal", toleranceMode="absolute", tolerance=repr(allowed))
        else:
            test = _q(condition, "match")
        _q(test, "variable", identifier=blank["id"])
        _q(test, "correct", identifier=blank["id"])
        total = _q(_q(condition, "setOutcomeValue", identifier="SCORE"), "sum")
        _q(total, "variable", identifier="SCORE")
        _q(total, "baseValue", baseType="float").text = points


def _export_item(question: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    qtype, data = question["type"], question["data"]
    item = Element(
        f"{{{QTI21}}}assessmentItem", identifier=question["slug"], title=question["title"]
    )
    item.set("adaptive", "false")
    item.set("timeDependent", "false")
    overrides: dict[str, Any] = {
        k: question[k] for k in ("slug", "title", "prompt", "explanation", "tags")
    }
    template = "match_correct"
    if qtype in ("single_choice", "multiple_choice"):
        multiple = qtype == "multiple_choice"
        correct = [c["id"] for c in data["choices"] if c["correct"]]
        decl = _declaration(item, "multiple" if multiple else "single", "identifier", correct)
        partial = multiple or any(c.get("fraction") for c in data["choices"])
        if partial:
            template = "map_response"
            fractions = (
                own_rule_fractions(data["choices"])
                if multiple
                else [
                    1.0 if c["correct"] else float(c.get("fraction") or 0) for c in data["choices"]
                ]
            )
            mapping = _q(decl, "mapping", lowerBound="0", upperBound="1", defaultValue="0")
            for choice, fraction in zip(data["choices"], fractions, strict=True):
                _q(mapping, "mapEntry", mapKey=choice["id"], mappedValue=repr(round(fraction, 9)))
        overrides["choices"] = {c["id"]: c["text"] for c in data["choices"]}
    elif qtype == "matching":
        rights = [p["right"] for p in data["pairs"]] + list(data.get("distractors") or [])
        right_id = {text: f"R{n + 1}" for n, text in enumerate(dict.fromkeys(rights))}
        correct = [f"{p['id']} {right_id[p['right']]}" for p in data["pairs"]]
        decl = _declaration(item, "multiple", "directedPair", correct)
        template = "map_response"
        mapping = _q(decl, "mapping", defaultValue="0", lowerBound="0")
        mapping.set("upperBound", repr(float(len(correct))))
        for value in correct:
            _q(mapping, "mapEntry", mapKey=value, mappedValue="1")
        overrides["pairs"] = {p["id"]: p["left"] for p in data["pairs"]}
    elif qtype == "cloze":
        template = ""
        for blank in data["blanks"]:
            _cloze_declaration(item, blank)
        overrides["blanks"] = {
            b["id"]: {k: b[k] for k in BLANK_EXTRAS if b.get(k) not in (None, [], False)}
            for b in data["blanks"]
        }
    elif qtype == "ordering":
        _declaration(item, "ordered", "identifier", [i["id"] for i in data["items"]])
        overrides["items"] = {i["id"]: i["text"] for i in data["items"]}
    elif qtype == "true_false":
        _declaration(item, "single", "identifier", ["true" if data["answer"] else "false"])
    elif qtype == "numeric":
        _declaration(item, "single", "float", [repr(float(data["answer"]))])
        template = ""
        if data.get("unit"):
            overrides["unit"] = data["unit"]
    else:
        decl = _declaration(item, "single", "string", data["accept"][:1])
        template = "map_response"
        mapping = _q(decl, "mapping", defaultValue="0", upperBound="1")
        case = "true" if data.get("case_sensitive") else "false"
        for accepted in data["accept"]:
            _q(mapping, "mapEntry", mapKey=accepted, mappedValue="1", caseSensitive=case)
        for part in data.get("partial") or []:
            _q(
                mapping,
                "mapEntry",
                mapKey=part["accept"],
                mappedValue=repr(part["fraction"]),
                caseSensitive=case,
            )
        overrides["patterns"] = data["patterns"]
    _outcomes(item, question["points"])
    body = _q(item, "itemBody")
    if qtype == "cloze":
        _cloze_body(body, question["prompt"], data["blanks"])
    elif qtype == "matching":
        interaction = _q(body, "matchInteraction", responseIdentifier="RESPONSE", shuffle="true")
        interaction.set("maxAssociations", str(len(data["pairs"])))
        _xhtml(_q(interaction, "prompt"), question["prompt"])
        lefts = _q(interaction, "simpleMatchSet")
        for pair in data["pairs"]:
            _xhtml(
                _q(lefts, "simpleAssociableChoice", identifier=pair["id"], matchMax="1"),
                pair["left"],
            )
        right_set = _q(interaction, "simpleMatchSet")
        for text, ident in right_id.items():
            choice = _q(right_set, "simpleAssociableChoice", identifier=ident)
            choice.set("matchMax", str(len(data["pairs"])))
            choice.text = text
    elif qtype == "ordering":
        interaction = _q(body, "orderInteraction", responseIdentifier="RESPONSE", shuffle="true")
        _xhtml(_q(interaction, "prompt"), question["prompt"])
        for entry in data["items"]:
            _xhtml(_q(interaction, "simpleChoice", identifier=entry["id"]), entry["text"])
    elif qtype in ("short_text", "numeric"):
        _xhtml(_q(body, "div"), question["prompt"])
        entry = _q(_q(body, "p"), "textEntryInteraction", responseIdentifier="RESPONSE")
        entry.set("expectedLength", "20")
    else:
        interaction = _q(body, "choiceInteraction", responseIdentifier="RESPONSE")
        interaction.set("shuffle", "true" if data.get("shuffle") else "false")
        interaction.set("maxChoices", "0" if qtype == "multiple_choice" else "1")
        _xhtml(_q(interaction, "prompt"), question["prompt"])
        options = (
            [("true", "True"), ("false", "False")]
            if qtype == "true_false"
            else [(c["id"], c["text"]) for c in data["choices"]]
        )
        for ident, label in options:
            _xhtml(_q(interaction, "simpleChoice", identifier=ident), label)
    if template:
        _q(item, "responseProcessing", template=TEMPLATES + template)
    elif qtype == "cloze":
        _cloze_processing(item, data["blanks"])
    else:
        _tolerance_processing(item, data["tolerance"], data["answer"])
    feedback = _q(
        item, "modalFeedback", outcomeIdentifier="completionStatus", identifier="completed"
    )
    feedback.set("showHide", "show")
    _xhtml(feedback, question["explanation"])
    indent(item)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(
        item, encoding="utf-8"
    ) + b"\n", overrides


EXPORTED_TYPES = (
    "single_choice",
    "multiple_choice",
    "true_false",
    "numeric",
    "short_text",
    "matching",
    "ordering",
    "cloze",
)


def export(questions: list[dict[str, Any]]) -> bytes:
    register_namespace("", QTI21)
    register_namespace("holdout", HOLDOUT_NS)
    cp = "http://www.imsglobal.org/xsd/imscp_v1p1"
    register_namespace("imscp", cp)
    manifest = Element(f"{{{cp}}}manifest", identifier="holdout-export")
    SubElement(manifest, f"{{{cp}}}organizations")
    resources = SubElement(manifest, f"{{{cp}}}resources")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for question in questions:
            if question["type"] not in EXPORTED_TYPES:
                continue
            content, overrides = _export_item(question)
            href = f"items/{question['slug']}.xml"
            archive.writestr(href, content)
            resource = SubElement(
                resources,
                f"{{{cp}}}resource",
                identifier=f"R-{question['slug']}",
                type="imsqti_item_xmlv2p1",
                href=href,
            )
            metadata = SubElement(resource, f"{{{cp}}}metadata")
            SubElement(metadata, f"{{{HOLDOUT_NS}}}question").text = json.dumps(
                overrides, ensure_ascii=False, sort_keys=True
            )
            SubElement(resource, f"{{{cp}}}file", href=href)
        indent(manifest)
        archive.writestr(
            "imsmanifest.xml",
            b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(manifest, encoding="utf-8"),
        )
    return buffer.getvalue()
