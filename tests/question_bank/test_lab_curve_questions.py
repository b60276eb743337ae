"""The lab-curve tables (content/questions/lab-curves-tables.yaml) are right for every student: for
each value of the parameters, the table the student is shown has its lowest validation loss at
the epoch the answer formula gives, and early stopping with the stated patience, run on the
shown numbers, stops at the epoch the answer formula gives."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from question_bank.formula import evaluate
from question_bank.loader import load_bank
from question_bank.types import grade_quick, render_prompt, resolve

QUESTIONS = {q["slug"]: q for q in load_bank().questions}


def variants(question: dict[str, Any]) -> list[dict[str, float]]:
    parameters = question["data"]["parameters"]
    names = sorted(parameters)
    ranges = []
    for name in names:
        spec = parameters[name]
        count = round((spec["max"] - spec["min"]) / spec["step"]) + 1
        ranges.append([int(spec["min"] + i * spec["step"]) for i in range(count)])
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*ranges)]


def table(prompt: str) -> list[list[float]]:
    """The rows of the prompt's table, as numbers (the epoch first)."""
    rows = re.findall(r"^\s*\|\s*(\d+)\s*\|(.*)\|\s*$", prompt, re.M)
    return [[float(epoch), *(float(c) for c in cells.split("|"))] for epoch, cells in rows]


def early_stopping_epoch(losses: list[float], patience: int) -> int | None:
    """The epoch at whose end training stops: `patience` epochs in a row without a new best."""
    best, bad = float("inf"), 0
    for epoch, loss in enumerate(losses, start=1):
        if loss < best:
            best, bad = loss, 0
        else:
            bad += 1
            if bad == patience:
                return epoch
    return None


def answer(question: dict[str, Any], variant: dict[str, float]) -> float:
    return evaluate(question["data"]["answer_formula"], variant)


@pytest.mark.parametrize("variant", variants(QUESTIONS["lab-curves-overfitting-onset"]))
def test_overfitting_starts_at_the_lowest_shown_validation_loss(variant: dict[str, float]) -> None:
    question = QUESTIONS["lab-curves-overfitting-onset"]
    prompt = render_prompt(question["prompt"], variant)
    assert "{=" not in prompt
    rows = table(prompt)
    assert [r[0] for r in rows] == list(range(1, 15))
    val = [r[2] for r in rows]
    lowest = min(val)
    assert val.count(lowest) == 1  # one right answer, never a tie
    onset = val.index(lowest) + 1
    assert onset == answer(question, variant)
    train = [r[1] for r in rows]
    assert all(b < a for a, b in itertools.pairwise(train))  # training loss keeps falling
    assert all(b > a for a, b in itertools.pairwise(val[onset - 1 :]))  # validation then rises
    data = resolve("numeric", question["data"], variant)
    assert grade_quick("numeric", data, float(onset)).fraction == 1.0
    assert grade_quick("numeric", data, float(len(rows))).fraction == 0.0  # lowest training loss


@pytest.mark.parametrize("variant", variants(QUESTIONS["lab-curves-early-stopping-epoch"]))
def test_early_stopping_stops_where_the_answer_says(variant: dict[str, float]) -> None:
    question = QUESTIONS["lab-curves-early-stopping-epoch"]
    prompt = render_prompt(question["prompt"], variant)
    patience = int(variant["p"])
    assert f"patience of {patience}:" in prompt and "{" not in prompt.replace("{=", "")
    val = [r[1] for r in table(prompt)]
    stopped = early_stopping_epoch(val, patience)
    assert stopped is not None and stopped == answer(question, variant)
    # The dip after the best epoch is not a new best: resetting the count there is wrong.
    best = val.index(min(val))
    assert val[best + 2] < val[best + 1] and val[best + 2] > val[best]
    data = resolve("numeric", question["data"], variant)
    assert grade_quick("numeric", data, float(stopped)).fraction == 1.0
    assert grade_quick("numeric", data, float(stopped - 1)).fraction == 0.0  # off by one
    assert grade_quick("numeric", data, float(best + 1)).fraction == 0.0  # the best epoch


def test_the_lab_quiz_holds_the_lab_curve_questions() -> None:
    quiz = next(q for q in load_bank().quizzes if q["slug"] == "lab-curves")
    assert all(slug in QUESTIONS for slug in quiz["questions"])
    assert {q for q in QUESTIONS if q.startswith("lab-curves-")} == set(quiz["questions"])
