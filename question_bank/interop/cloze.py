"""Moodle's embedded answers (cloze, `multianswer`): `{2:SHORTANSWER:=Paris#Yes~%50%paris}` and
its kin in the question text (https://docs.moodle.org/en/Embedded_Answers_(Cloze)_question_type).

Each subquestion becomes a blank of holdout's cloze type: SHORTANSWER (SA, MW; `_C` for case
sensitive), NUMERICAL (NM) and the one-answer MULTICHOICE forms (MC, MCV, MCH, their `_S`
shuffled variants). MULTIRESPONSE (several ticks in one blank) has no blank kind: refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from question_bank.interop.base import Refusal, choices_with_fractions, fraction_of, number
from question_bank.interop.text import to_plain

_SUBQUESTION = re.compile(r"\{(?P<weight>\d*):(?P<kind>[A-Z_]+):(?P<body>(?:\\.|[^\\}])*)\}")
_KINDS = {
    "SHORTANSWER": "short_text", "SA": "short_text", "MW": "short_text",
    "SHORTANSWER_C": "short_text_c", "SAC": "short_text_c", "MWC": "short_text_c",
    "NUMERICAL": "numeric", "NM": "numeric",
    "MULTICHOICE": "choice", "MC": "choice", "MULTICHOICE_V": "choice", "MCV": "choice",
    "MULTICHOICE_H": "choice", "MCH": "choice", "MULTICHOICE_S": "choice", "MCS": "choice",
    "MULTICHOICE_VS": "choice", "MCVS": "choice", "MULTICHOICE_HS": "choice", "MCHS": "choice",
}  # fmt: skip
_PLACEHOLDER = "HOLDOUTBLANK{}Z"


def _split(body: str, sep: str) -> list[str]:
    """Split on unescaped `sep` (a backslash escapes the next character)."""
    parts, current, i = [], "", 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            current += body[i : i + 2]
            i += 2
            continue
        if body[i] == sep:
            parts.append(current)
            current = ""
        else:
            current += body[i]
        i += 1
    parts.append(current)
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _answers(body: str) -> list[tuple[float, str]]:
    out = []
    for raw in _split(body, "~"):
        answer = _split(raw, "#")[0].strip()
        if not answer:
            continue
        fraction = 0.0
        if answer.startswith("="):
            fraction, answer = 1.0, answer[1:]
        else:
            weight = re.match(r"%(-?\d+(?:\.\d+)?)%", answer)
            if weight:
                fraction, answer = fraction_of(weight.group(1)), answer[weight.end() :]
        out.append((fraction, answer.strip()))
    return out


def _blank(kind: str, body: str, points: float, ident: str) -> dict[str, Any]:
    answers = _answers(body)
    blank: dict[str, Any] = {"id": ident, "points": points}
    if kind == "numeric":
        full, partial = [], []
        for fraction, answer in answers:
            if fraction <= 0 or answer == "*":
                continue
            value, _, tol = to_plain(answer).partition(":")
            entry = (number(value, "a blank's answer"), abs(number(tol or "0", "a tolerance")))
            if fraction >= 1 - 1e-6:
                full.append(entry)
            else:
                partial.append(
                    {
                        "answer": entry[0],
                        "tolerance": {"abs": entry[1], "rel": 0.0},
                        "fraction": fraction,
                    }
                )
        if len(set(full)) != 1:
            raise Refusal(f"blank {ident} has {len(set(full))} full-marks answers, not one")
        blank.update(kind="numeric", answer=full[0][0], tolerance={"abs": full[0][1], "rel": 0.0})
        if partial:
            blank["partial"] = partial
        return blank
    if kind in ("short_text", "short_text_c"):
        accept = [_unescape(to_plain(a)) for f, a in answers if f >= 1 - 1e-6]
        partial_text = [
            {"accept": _unescape(to_plain(a)), "fraction": f}
            for f, a in answers
            if 0 < f < 1 - 1e-6
        ]
        if not accept:
            raise Refusal(f"blank {ident} has no answer that earns full marks")
        blank.update(kind="short_text", accept=accept)
        if kind == "short_text_c":
            blank["case_sensitive"] = True
        if partial_text:
            blank["partial"] = partial_text
        return blank
    texts = [_unescape(to_plain(a)) for _, a in answers]
    _, choices = choices_with_fractions(texts, [f for f, _ in answers], multiple=False)
    blank.update(kind="choice", choices=choices)
    return blank


def parse_moodle_cloze(
    raw: str, to_markdown: Callable[[str], str]
) -> tuple[str, list[dict[str, Any]]]:
    """The prompt with `{{blank:ID}}` markers, and the blanks, from a cloze question's text."""
    blanks: list[dict[str, Any]] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group("kind")
        if name.startswith(("MULTIRESPONSE", "MR")):
            raise Refusal("a MULTIRESPONSE blank (several ticks in one gap) has no holdout form")
        if name not in _KINDS:
            raise Refusal(f"the blank type {name!r} is not one of Moodle's cloze types")
        ident = f"b{len(blanks) + 1}"
        points = float(match.group("weight") or 1) or 1.0
        blanks.append(_blank(_KINDS[name], match.group("body"), points, ident))
        return _PLACEHOLDER.format(len(blanks) - 1)

    marked = _SUBQUESTION.sub(replace, raw)
    if not blanks:
        raise Refusal("a cloze question with no subquestions (no {1:TYPE:...} blanks)")
    prompt = to_markdown(marked)
    for i, blank in enumerate(blanks):
        prompt = prompt.replace(_PLACEHOLDER.format(i), "{{blank:" + blank["id"] + "}}")
    missing = [b["id"] for b in blanks if "{{blank:" + b["id"] + "}}" not in prompt]
    if missing:
        raise Refusal(f"blanks {missing} were lost from the text")
    return prompt, blanks


def _escaped(value: str) -> str:
    return re.sub(r"([\\}~#=%{:])", r"\\\1", value)


def _weight(fraction: float) -> str:
    return "=" if fraction >= 1 - 1e-9 else f"%{fraction * 100:.7g}%"


def write_moodle_cloze(prompt: str, data: dict[str, Any]) -> str:
    """The prompt with each `{{blank:ID}}` as Moodle's `{points:TYPE:answers}`; blanks that
    Moodle cannot say (regular expressions, fractional points) are written as close as it can."""
    for blank in data["blanks"]:
        points = max(1, round(float(blank.get("points", 1))))
        if blank["kind"] == "numeric":
            entries = [(1.0, blank["answer"], blank["tolerance"])]
            entries += [
                (p["fraction"], p["answer"], p["tolerance"]) for p in blank.get("partial") or []
            ]
            answers = "~".join(
                f"{_weight(f)}{float(v)!r}:{max(t['abs'], t['rel'] * abs(v))!r}"
                for f, v, t in entries
            )
            kind = "NUMERICAL"
        elif blank["kind"] == "short_text":
            answers = "~".join(f"={_escaped(a)}" for a in blank["accept"])
            answers += "".join(
                f"~{_weight(p['fraction'])}{_escaped(p['accept'])}"
                for p in blank.get("partial") or []
            )
            kind = "SHORTANSWER_C" if blank.get("case_sensitive") else "SHORTANSWER"
        else:
            answers = "~".join(
                (
                    "="
                    if c["correct"]
                    else _weight(c.get("fraction") or 0.0)
                    if c.get("fraction")
                    else ""
                )
                + _escaped(c["text"])
                for c in blank["choices"]
            )
            kind = "MULTICHOICE"
        prompt = prompt.replace("{{blank:" + blank["id"] + "}}", f"{{{points}:{kind}:{answers}}}")
    return prompt
