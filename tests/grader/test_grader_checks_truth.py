"""The checks for what prompts promise (SPEC.md, "Checks for promises"), through the real sandbox:
new objects, exceptions raised by the student's own code, independence and uniformity with their
false-fail bound and power."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from grader_helpers import EXERCISES

from grader import Exercise, Grader, load_exercise
from grader.checks import hoeffding
from grader.protocol import decode_shared
from grader.spec import SpecError
from grader.statistics import describe, statistics_report
from grader.values import DecodeError

X = {"$array": {"values": [[1.0, 2.0], [3.0, 4.0]], "dtype": "float64"}}


def _exercise(tests: list[dict[str, Any]], reference: str, signature: str) -> Exercise:
    name = signature.split("(")[0]
    return Exercise.from_dict(
        {
            "slug": "truth-checks",
            "title": "checks for promises",
            "entry": {"name": name, "kind": "function", "signature": signature},
            "limits": {"wall_seconds": 5, "cpu_seconds": 3},
            "tests": tests,
            "reference": reference,
        }
    )


def _messages(grader: Grader, exercise: Exercise, source: str) -> dict[str, str]:
    report = grader.grade(exercise, source)
    assert report.status == "graded", report.feedback
    return {t.name: ("" if t.passed else t.message) for t in report.tests}


# --------------------------------------------------------------------------------------------
# new_object

NEW_OBJECT_REFERENCE = """
import numpy as np

def stats(x, d, training=True):
    return x.copy(), {"m": d["m"].copy()}, [x * 1.0]
"""

NEW_OBJECT = _exercise(
    [
        {
            "name": "returns new arrays",
            "let": {"x": X, "d": {"m": {"$array": {"values": [0.5, 1.5], "dtype": "float64"}}}},
            "steps": [
                {
                    "call": {"args": [{"$ref": "x"}, {"$ref": "d"}], "kwargs": {"training": False}},
                    "expect": [
                        {"check": "equal"},
                        {"check": "new_object", "path": [0], "message": "return x.copy()"},
                        {"check": "new_object", "path": [1]},
                        {"check": "new_object", "path": [2]},
                    ],
                }
            ],
        },
        {
            "name": "new arrays on every call",
            "let": {"x": X, "d": {"m": {"$array": {"values": [0.5, 1.5], "dtype": "float64"}}}},
            "steps": [
                {"call": {"args": [{"$ref": "x"}, {"$ref": "d"}]}, "repeat": 2},
                {
                    "call": {"args": [{"$ref": "x"}, {"$ref": "d"}]},
                    "expect": [{"check": "new_object"}],
                },
            ],
        },
    ],
    NEW_OBJECT_REFERENCE,
    "stats(x, d, training=True)",
)


def test_new_object_accepts_copies(grader: Grader) -> None:
    assert _messages(grader, NEW_OBJECT, NEW_OBJECT_REFERENCE) == {
        "returns new arrays": "",
        "new arrays on every call": "",
    }


@pytest.mark.parametrize(
    ("body", "test", "expected"),
    [
        # The caller's array itself, e.g. eval mode returning x.
        ("return x, {'m': d['m'].copy()}, [x * 1.0]", "returns new arrays", "argument 'x' itself"),
        # A view shares memory: equal values, but writing to it changes the input.
        (
            "return x[:], {'m': d['m'].copy()}, [x * 1.0]",
            "returns new arrays",
            "shares memory with argument 'x'",
        ),
        # Inside a returned container (a running statistic handed back as it came).
        ("return x.copy(), {'m': d['m']}, [x * 1.0]", "returns new arrays", "argument 'd'['m']"),
        ("return x.copy(), d, [x * 1.0]", "returns new arrays", "is argument 'd' itself"),
        ("return x.copy(), {'m': d['m'].copy()}, [x.reshape(-1)]", "returns new arrays", "[2][0]"),
    ],
)
def test_new_object_catches_inputs_and_views(
    grader: Grader, body: str, test: str, expected: str
) -> None:
    source = f"import numpy as np\n\ndef stats(x, d, training=True):\n    {body}\n"
    messages = _messages(grader, NEW_OBJECT, source)
    assert expected in messages[test], messages


def test_new_object_catches_an_earlier_output_returned_again(grader: Grader) -> None:
    source = """
import numpy as np
_cache = {}

def stats(x, d, training=True):
    if "out" not in _cache:
        _cache["out"] = (x.copy(), {"m": d["m"].copy()}, [x * 1.0])
    return _cache["out"]
"""
    messages = _messages(grader, NEW_OBJECT, source)
    assert "the output of step 1" in messages["new arrays on every call"], messages
    assert messages["returns new arrays"] == ""


# --------------------------------------------------------------------------------------------
# raises with own: true

RAISES_REFERENCE = """
import numpy as np

def norm(x, axis):
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for a {x.ndim}-d array")
    return np.sqrt((x * x).sum(axis=axis))
"""

RAISES = _exercise(
    [
        {
            "name": "invalid axis raises ValueError",
            "steps": [
                {
                    "call": {"args": [X, 2]},
                    "expect": [
                        {"check": "raises", "own": True, "message": "check the axis yourself"}
                    ],
                }
            ],
        },
        {
            "name": "invalid axis raises (numpy may do it)",
            "steps": [{"call": {"args": [X, 2]}, "expect": [{"check": "raises"}]}],
        },
    ],
    RAISES_REFERENCE,
    "norm(x, axis)",
)


def test_raises_own_accepts_the_students_raise(grader: Grader) -> None:
    helper = """
import numpy as np

def _check(axis, ndim):
    if axis >= ndim:
        raise ValueError("bad axis")

def norm(x, axis):
    _check(axis, x.ndim)
    return np.sqrt((x * x).sum(axis=axis))
"""
    rewrap = """
import numpy as np

def norm(x, axis):
    try:
        return np.linalg.norm(x, axis=axis)
    except np.exceptions.AxisError as exc:
        raise ValueError(f"bad axis {axis}") from exc
"""
    for source in (RAISES_REFERENCE, helper, rewrap):
        assert set(_messages(grader, RAISES, source).values()) == {""}


@pytest.mark.parametrize(
    "body",
    [
        "return np.sqrt((x * x).sum(axis=axis))",  # numpy's AxisError (a ValueError), in Python
        "return np.linalg.norm(x, axis=axis)",
        "return np.sqrt(np.add.reduce(x * x, axis))",  # raised from C inside the student's line
    ],
)
def test_raises_own_fails_when_numpy_raised(grader: Grader, body: str) -> None:
    source = f"import numpy as np\n\ndef norm(x, axis):\n    {body}\n"
    messages = _messages(grader, RAISES, source)
    assert messages["invalid axis raises (numpy may do it)"] == ""  # the plain check is fooled
    own = messages["invalid axis raises ValueError"]
    assert "not by a check of your own" in own and "check the axis yourself" in own, own


# --------------------------------------------------------------------------------------------
# independent and uniform

MASK_REFERENCE = """
import numpy as np

def mask(shape, p, rng):
    return rng.random(tuple(shape)) < p

def pick(n, rng):
    return int(rng.integers(0, n))
"""

INDEPENDENT = _exercise(
    [
        {
            "name": "rows are independent",
            "steps": [
                {
                    "call": {"args": [[64, 32], 0.3, {"$rng": 1}]},
                    "expect": [
                        {"check": "frequency", "of": {"$out": []}, "p": 0.3},
                        {"check": "independent", "of": {"$out": []}, "p": 0.3},
                        {"check": "independent", "of": {"$out": []}, "p": 0.3, "axis": 1},
                    ],
                }
            ],
        }
    ],
    MASK_REFERENCE,
    "mask(shape, p, rng)",
)

UNIFORM = _exercise(
    [
        {
            "name": "uniform over 0..3",
            "steps": [
                {
                    "call": {"args": [4, {"$rng": 2}]},
                    "repeat": 1000,
                    "expect": [{"check": "uniform", "of": {"$out": []}, "low": 0, "high": 4}],
                }
            ],
        }
    ],
    MASK_REFERENCE,
    "pick(n, rng)",
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, ""),
        # One mask for every row: each row is right on its own, so `frequency` passes.
        ("return np.broadcast_to(rng.random(shape[-1:]) < p, tuple(shape))", "along axis 0"),
        ("return np.broadcast_to(rng.random((shape[0], 1)) < p, tuple(shape))", "along axis 1"),
    ],
)
def test_independent_catches_a_mask_shared_across_rows(
    grader: Grader, body: str | None, expected: str
) -> None:
    source = (
        MASK_REFERENCE
        if body is None
        else (f"import numpy as np\n\ndef mask(shape, p, rng):\n    {body}\n")
    )
    message = _messages(grader, INDEPENDENT, source)["rows are independent"]
    if not expected:
        assert message == ""
    else:
        assert "not independent " + expected in message and "frequency" not in message, message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, ""),
        ("return int(rng.integers(0, n - 1))", "never drawn: [3]"),  # the off-by-one
        ("return int(rng.integers(0, n + 1))", "outside 0..3"),
    ],
)
def test_uniform_catches_an_off_by_one(grader: Grader, body: str | None, expected: str) -> None:
    source = (
        MASK_REFERENCE
        if body is None
        else (f"import numpy as np\n\ndef pick(n, rng):\n    {body}\n")
    )
    message = _messages(grader, UNIFORM, source)["uniform over 0..3"]
    assert (message == "") if not expected else (expected in message), message


def test_spec_validates_the_new_checks() -> None:
    def one(check: dict[str, Any]) -> Exercise:
        test = {"name": "t", "steps": [{"call": {"args": [4, {"$rng": 2}]}, "expect": [check]}]}
        return _exercise([test], MASK_REFERENCE, "pick(n, rng)")

    with pytest.raises(SpecError, match="high - low"):
        one({"check": "uniform", "of": {"$out": []}, "low": 3, "high": 3})
    with pytest.raises(SpecError, match="delta"):
        one({"check": "independent", "of": {"$out": []}, "p": 0.5, "delta": 0.01})
    with pytest.raises(SpecError, match="p: required"):
        one({"check": "independent", "of": {"$out": []}})
    with pytest.raises(SpecError, match="own"):
        one({"check": "raises", "own": "yes"})
    with pytest.raises(SpecError, match="unknown key"):
        one({"check": "new_object", "of": {"$out": []}})


def test_hoeffding_power_is_consistent() -> None:
    bound, power = hoeffding(10_000, 1.0, 1e-9)
    assert math.isclose(bound, math.sqrt(math.log(2e9) / 20_000))
    # A deviation of `power` leaves the bound with probability >= 0.999 (one-sided Hoeffding).
    assert math.isclose(math.exp(-2 * 10_000 * (power - bound) ** 2), 1e-3)
    # Four cases at once: a union bound, so a wider interval.
    assert hoeffding(10_000, 1.0, 1e-9, cases=4)[0] > bound


# --------------------------------------------------------------------------------------------
# feedback that names the misconception

KEEPS_P = "keeps each element with probability p instead of dropping it"


def _dropout() -> Exercise:
    return load_exercise(EXERCISES / "dropout")


def test_a_student_who_keeps_with_probability_p_is_told_so(grader: Grader) -> None:
    # Written differently from mutants/keeps_with_probability_p.py, as a student would.
    source = """
import numpy as np

def dropout(x, p, training=True, rng=None):
    if p < 0 or p > 1:
        raise ValueError("p out of range")
    if not training or p == 0:
        return np.array(x, copy=True)
    if p == 1:
        return np.zeros(x.shape, dtype=x.dtype)
    if rng is None:
        rng = np.random.default_rng()
    mask = rng.uniform(size=x.shape) < p
    return (x * mask / (1 - p)).astype(x.dtype)
"""
    report = grader.grade(_dropout(), source)
    assert report.score < report.max_score
    assert f"Possible misconception: this {KEEPS_P}" in report.feedback, report.feedback
    assert report.feedback.count("Possible misconception") == 1


def test_no_misconception_for_correct_or_unknown_answers(grader: Grader) -> None:
    exercise = _dropout()
    for source in exercise.equivalents.values():
        report = grader.grade(exercise, source)
        assert report.score == report.max_score
        assert "misconception" not in report.feedback
    # A bug no mutant has: every output doubled.
    doubled = exercise.reference + (
        "\n\n_dropout = dropout\n\n"
        "def dropout(x, p, training=True, rng=None):\n"
        "    return _dropout(x, p, training, rng) * 2\n"
    )
    report = grader.grade(exercise, doubled)
    assert report.score < report.max_score
    assert "misconception" not in report.feedback, report.feedback


HIDDEN_ONLY_REFERENCE = """
import numpy as np

def scale(x, p):
    return x * (1 - p)
"""

HIDDEN_ONLY = Exercise.from_dict(
    {
        "slug": "hidden-only",
        "title": "scale by 1 - p",
        "entry": {"name": "scale", "kind": "function", "signature": "scale(x, p)"},
        "tests": [
            {
                # p = 0.5 cannot tell p from 1 - p: only the hidden test can.
                "name": "halves at p = 0.5",
                "steps": [
                    {
                        "call": {"args": [{"$array": {"values": [2.0, 4.0]}}, 0.5]},
                        "expect": [{"check": "equal"}],
                    }
                ],
            },
            {
                "name": "a hidden p",
                "hidden": True,
                "steps": [
                    {
                        "call": {"args": [{"$array": {"values": [7.125, -9.375]}}, 0.125]},
                        "expect": [{"check": "equal"}],
                    }
                ],
            },
        ],
        "reference": HIDDEN_ONLY_REFERENCE,
        "mutants": {
            "scales_by_p.py": "# misconception: this looks like scaling by p instead of 1 - p\n"
            "# expect: a hidden p: expected\n"
            "def scale(x, p):\n    return x * p\n"
        },
    }
)


def test_a_match_resting_on_a_hidden_test_names_it_without_hidden_data(grader: Grader) -> None:
    report = grader.grade(HIDDEN_ONLY, "def scale(x, p):\n    return p * x\n")
    assert [t.passed for t in report.tests] == [True, False]
    assert report.feedback.endswith(
        "Possible misconception: this looks like scaling by p instead of 1 - p."
    )
    public = json.dumps(report.to_dict())
    for secret in ("7.125", "9.375", "0.125", "6.234375", "0.890625"):
        assert secret not in public
    assert report.tests[1].message == "failed: wrong result"


def test_a_misconception_is_a_short_sentence() -> None:
    with pytest.raises(SpecError, match="at most 300"):
        Exercise.from_dict(
            {
                **HIDDEN_ONLY.to_dict(),
                "mutants": {"m.py": "# misconception: " + "x" * 301 + "\n# expect: a hidden p\n"},
            }
        )


# --------------------------------------------------------------------------------------------
# false-fail bound and power, as `holdout bank check` prints them


def test_every_statistical_check_states_its_bound_and_power(grader: Grader) -> None:
    exercise = load_exercise(EXERCISES / "cutmix-box")
    stats = statistics_report(exercise, grader.reference_outputs(exercise))
    centre = [s for s in stats if s["test"] == "the centre is uniform over every row and column"]
    assert [(s["check"], s["step"], s["n"]) for s in centre] == [
        ("uniform", 1, 1200),
        ("uniform", 1, 1200),
        ("uniform", 2, 700),
    ]
    for s in stats:
        assert s["false_fail"] <= 1e-9
        assert 0 < s["bound"] < s["power"]
    # A centre drawn from 0..H-2 on a 3 x 3 image never draws row 2: a deviation of 1/3, above the
    # power, so it is caught with probability >= 0.999.
    assert centre[0]["power"] < 1 / 3
    assert "detects a deviation >=" in describe(centre[0])


def test_memory_reports_from_the_sandbox_are_checked_as_data() -> None:
    good = [{"rep": 1, "at": [0, "m"], "with": ["arg", 2, ["k"]], "how": "same"}]
    assert decode_shared(good) == good
    # Anything else is rebuilt from checked parts or refused (the record then counts as tampered).
    assert decode_shared([{"rep": "x", "at": [], "with": ["let", "x", []], "how": "?"}]) == [
        {"rep": None, "at": [], "with": ["let", "x", []], "how": "memory"}
    ]
    for bad in ("no", [1], [{"with": ["eval", 0, []]}], [{"with": ["arg", 0, "x" * 50]}]):
        with pytest.raises(DecodeError):
            decode_shared(bad)
