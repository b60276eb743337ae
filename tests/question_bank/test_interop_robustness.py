"""Malformed files give an error or refusals, never an exception: every sample file of the
format tests, cut short, with bytes changed and with pieces of markup dropped (a fixed seed, so
a failure is reproduced)."""

from __future__ import annotations

import random

import pytest

from question_bank.interop.formats import export_questions, import_data
from question_bank.loader import BUNDLED_DIR, load_bank
from tests.question_bank.test_interop_gift import BASIC
from tests.question_bank.test_interop_moodle import MULTICHOICE, NUMERICAL, SHORT, TRUEFALSE, quiz
from tests.question_bank.test_interop_qti import TEXT_ENTRY_3, canvas_quiz, choice_item_21, package

SAMPLES = {
    "gift": BASIC.encode(),
    "moodle": quiz(MULTICHOICE, TRUEFALSE, SHORT, NUMERICAL).encode(),
    "qti21": choice_item_21().encode(),
    "qti3": TEXT_ENTRY_3.encode(),
    "canvas": canvas_quiz().encode(),
    "package": package(("a.xml", choice_item_21()), ("b.xml", TEXT_ENTRY_3)),
    "export": export_questions(load_bank(BUNDLED_DIR).questions[:8], "qti"),
}
TOKENS = [
    b"<",
    b">",
    b"{",
    b"}",
    b"=",
    b"~",
    b"#",
    b"::",
    b"\\",
    b'"',
    b"&",
    b"%",
    b"..",
    b":",
    b"\x00",
]


def mutants(data: bytes, rng: random.Random, count: int) -> list[bytes]:
    out = [data[: rng.randrange(len(data))] for _ in range(count // 4)]
    for _ in range(count // 4):
        cut = rng.randrange(len(data))
        out.append(data[:cut] + rng.choice(TOKENS) + data[cut:])
    for _ in range(count // 4):
        start = rng.randrange(len(data))
        out.append(data[:start] + data[start + rng.randrange(1, 60) :])
    for _ in range(count // 4):
        chunk = bytearray(data)
        for _ in range(5):
            chunk[rng.randrange(len(chunk))] = rng.randrange(256)
        out.append(bytes(chunk))
    return out


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("fmt", ["auto", "moodle-xml", "gift", "qti"])
def test_mutated_files_never_raise(name: str, fmt: str) -> None:
    rng = random.Random(f"{name}-{fmt}")
    for data in mutants(SAMPLES[name], rng, 120):
        result = import_data(data, f"{name}.bin", fmt)
        assert result.error is not None or isinstance(result.questions, list)
        for refused in result.refused:
            assert refused.reason


def test_an_entity_bomb_is_refused_unexpanded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><quiz>&b;</quiz>'
    )
    result = import_data(bomb, "bomb.xml")
    assert result.error is not None and "entities" in result.error


def test_an_external_entity_is_never_read() -> None:
    xxe = b'<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY x SYSTEM "file:///etc/passwd">]><quiz>&x;</quiz>'
    result = import_data(xxe, "xxe.xml")
    assert result.error is not None and "root" not in result.error


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    deep = b"<quiz>" + b"<a>" * 200_000 + b"</a>" * 200_000 + b"</quiz>"
    result = import_data(deep, "deep.xml")
    assert result.error is not None or not result.questions
