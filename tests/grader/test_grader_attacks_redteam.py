"""The red team's findings against the grader, each as the class of attack it stands for: output
values that crash the parent's comparisons, answers of the wrong kind that score like right ones,
an exception class posing as a builtin, changes to the inputs a `repeat` step did not see, and
tests a stub passes by computing nothing.

Every attack is a real submission through the real sandbox (tight limits, nothing left behind);
the memory attacks are in test_grader_attacks_parent.py beside the others.
"""

from __future__ import annotations

import logging
import textwrap
from typing import Any

import numpy as np
import pytest
from grader_helpers import EXERCISES, full_marks

from grader import Exercise, Grader, load_exercise
from grader.checks import compare, kinds_differ
from grader.spec import SpecError, property_only_tests
from grader.values import Unsupported

pytestmark = pytest.mark.usefixtures("leaves_nothing")


def src(code: str) -> str:
    return textwrap.dedent(code).lstrip()


def _array(values: list[float]) -> dict[str, Any]:
    return {"$array": {"values": values, "dtype": "float64"}}


def _exercise(tests: list[dict[str, Any]], reference: str = "def solve(x):\n    return x * 2.0\n"):
    return Exercise.from_dict(
        {
            "slug": "redteam-target",
            "title": "Double it",
            "entry": {"name": "solve", "kind": "function", "signature": "solve(x)"},
            "limits": {"wall_seconds": 3, "cpu_seconds": 2, "memory_mib": 512},
            "tests": tests,
            "reference": reference,
        }
    )


@pytest.fixture(scope="module")
def clip() -> Exercise:
    return load_exercise(EXERCISES / "clip-grad-norm")


# ------------------------------------------------------------------------------------------------
# 01: no decoded value makes the grading process raise, the misconception step included

# The `norm_after_clipping` mutant (it has a `# misconception:` sentence), returning VALUE where it
# reports a wrong norm: it fails exactly the mutant's checks, so the matcher compares its outputs.
NORM_AFTER_CLIPPING = """
import numpy as np

def clip_grad_norm(grads, max_norm, eps=1e-6):
    if max_norm <= 0 or eps < 0:
        raise ValueError("bad arguments")
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    total = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in arrays)))
    if total > max_norm:
        arrays = [(g * (max_norm / (total + eps))).astype(g.dtype) for g in arrays]
        total = VALUE
    else:
        arrays = [g.copy() for g in arrays]
    if isinstance(grads, dict):
        return dict(zip(grads, arrays)), total
    return arrays, total
"""

ODD_VALUES = {
    "a huge integer": "10 ** 400",
    "a huge negative integer": "-(10 ** 3000)",
    "a huge integer in a list": "[10 ** 400, 1.0]",
    "nested empty lists": "[[[[]]]]",
    "a dict of huge integers": "{'a': 10 ** 400}",
    "a uint64 beyond int64": "np.uint64(2**64 - 1)",
    "an infinite float": "float('inf')",
}


@pytest.mark.parametrize("name", list(ODD_VALUES))
def test_odd_outputs_are_graded_even_where_they_match_a_misconception(
    grader: Grader, clip: Exercise, name: str
) -> None:
    source = NORM_AFTER_CLIPPING.replace("VALUE", ODD_VALUES[name])
    report = grader.grade(clip, source)
    assert report.status == "graded"
    assert not full_marks(report) and report.score > 0
    worked = report.tests[0]
    assert not worked.passed and "total_norm is the norm before clipping" in worked.detail


HOSTILE_VALUES: list[Any] = [
    10**400,
    -(10**3999),
    2**64,
    float("inf"),
    float("nan"),
    np.uint64(2**64 - 1),
    np.int64(-(2**63)),
    np.complex128(1 + 1j),
    np.array([10.0**308, -(10.0**308)]),
    np.zeros((0, 3)),
    np.array(True),
    [[[[]]]],
    [10**400, {"a": (None, "s")}],
    {"k": [10**400]},
    Unsupported("an object of type Foo"),
    "text",
    None,
]
EXPECTED_VALUES: list[Any] = [5.0, 3, 10**400, np.float32(2.5), np.array([1.0, 2.0]), [1.0], None]


@pytest.mark.parametrize("got", HOSTILE_VALUES, ids=repr)
@pytest.mark.parametrize("exact", [True, False])
def test_comparisons_take_any_decoded_value(got: Any, exact: bool) -> None:
    # What the misconception matcher and every reference check run, outside any guard.
    for expected in EXPECTED_VALUES:
        diff = compare(expected, got, rtol=1e-6, atol=1e-9, exact=exact)
        assert diff is None or isinstance(diff, str)
        assert kinds_differ(expected, got) is None or kinds_differ(expected, got)


def test_huge_integers_compare_exactly() -> None:
    assert compare(10**400, 10**400) is None
    assert compare(10**400, 10**400 + 1) is not None
    assert compare(1.0, 10**400, rtol=1e-7, exact=False) is not None
    assert compare(10**400, 1.0, rtol=1e-7, exact=False) is not None  # inf's tolerance is not all


def test_a_failing_misconception_step_drops_the_hint_not_the_grade(
    grader: Grader, clip: Exercise, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    import grader.engine as engine

    def broken(*args: Any) -> list[str]:
        raise MemoryError("made up")

    monkeypatch.setattr(engine, "explain", broken)
    source = NORM_AFTER_CLIPPING.replace("VALUE", "total * 0.5")
    with caplog.at_level(logging.ERROR, logger="holdout.grader"):
        report = grader.grade(clip, source)
    assert report.status == "graded" and not full_marks(report)
    assert "misconception" not in report.feedback.lower()
    assert any("misconception step failed" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------------------------------------
# 05: an answer of another kind of number than the reference's fails, however close its values


@pytest.fixture(scope="module")
def doubling() -> Exercise:
    return _exercise(
        [
            {
                "name": "doubles an array",
                "steps": [
                    {
                        "call": {"args": [_array([1.0, 2.5, -3.0])]},
                        "expect": [{"check": "type"}, {"check": "allclose", "rtol": 1e-12}],
                    }
                ],
            },
            {
                "name": "doubles a number",
                "steps": [
                    {
                        "call": {"args": [2.5]},
                        "expect": [{"check": "type"}, {"check": "allclose", "rtol": 1e-12}],
                    }
                ],
            },
        ]
    )


# (what solve returns for an array, for a number, what the feedback says)
OTHER_KINDS = {
    "complex with a tiny imaginary part": (
        "x * 2.0 * (1 + 1e-15j)",
        "np.complex128(x * 2.0 * (1 + 1e-15j))",
        "got a complex",
    ),
    "complex with no imaginary part": ("(x * 2.0).astype(complex)", "complex(x * 2.0)", "complex"),
    "complex64": ("(x * 2.0).astype(np.complex64)", "np.complex64(x * 2.0)", "complex64"),
    "bool": ("(x * 2.0) != 0", "bool(x)", "bool"),
    "an object array": ("(x * 2.0).astype(object)", "np.array([x * 2.0], dtype=object)", "object"),
    "a datetime array": (
        "(x * 2.0).astype('datetime64[s]')",
        "np.datetime64(int(x * 2.0), 's')",
        "datetime64",
    ),
    "a structured array": (
        "np.array([(v,) for v in x * 2.0], dtype=[('v', 'f8')])",
        "np.array((x * 2.0,), dtype=[('v', 'f8')])",
        "dtype",
    ),
}


@pytest.mark.parametrize("name", list(OTHER_KINDS))
def test_numbers_of_another_kind_than_the_reference_fail(
    grader: Grader, doubling: Exercise, name: str
) -> None:
    for_array, for_number, expected = OTHER_KINDS[name]
    source = src(
        f"""
        import numpy as np

        def solve(x):
            if isinstance(x, np.ndarray):
                return {for_array}
            return {for_number}
        """
    )
    report = grader.grade(doubling, source)
    assert report.status == "graded" and report.score == 0, report.to_dict()
    for test in report.tests:
        assert expected in test.detail, test.detail


def test_complex_gradients_do_not_pass_clip_grad_norm(grader: Grader, clip: Exercise) -> None:
    # The red team's answer: the reference's values as complex128, total_norm np.complex128.
    source = src(
        """
        import math
        import numpy as np

        def clip_grad_norm(grads, max_norm, eps=1e-6):
            if not max_norm > 0 or not eps >= 0:
                raise ValueError("bad arguments")
            arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
            total = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in arrays))
            scale = max_norm / (total + eps) if total > max_norm else 1.0
            clip = lambda g: g.copy() if scale == 1.0 else g * scale * (1 + 1e-15j)
            norm = np.complex128(total * (1 + 1e-15j))
            if isinstance(grads, dict):
                return {k: clip(g) for k, g in grads.items()}, norm
            return [clip(g) for g in arrays], norm
        """
    )
    report = grader.grade(clip, source)
    assert report.score <= 4, report.to_dict()
    worked = report.tests[0]
    assert "expected a real number (float), got a complex number (complex128)" in worked.detail


def test_a_real_answer_with_integer_or_float_values_still_passes(
    grader: Grader, doubling: Exercise
) -> None:
    # Integers and floats are one family: `equal` and `allclose` compare numbers by value.
    report = grader.grade(doubling, "def solve(x):\n    return x * 2\n")
    assert full_marks(report), report.to_dict()


# ------------------------------------------------------------------------------------------------
# 07: only the builtin exception classes themselves pass a `raises` check


@pytest.fixture(scope="module")
def refusing() -> Exercise:
    reference = src(
        """
        def solve(x):
            if x < 0:
                raise ValueError("x must be >= 0")
            return x * 2.0
        """
    )
    step = {"call": {"args": [-1.0]}, "expect": [{"check": "raises", "own": True}]}
    return _exercise(
        [
            {"name": "refuses a negative x", "steps": [step]},
            {
                "name": "raises Exception",
                "steps": [
                    {
                        "call": {"args": [-1.0]},
                        "expect": [{"check": "raises", "exception": "Exception"}],
                    }
                ],
            },
        ],
        reference,
    )


FAKE_BUILTINS = {
    "renamed": """
        class Fake(Exception):
            pass
        Fake.__module__ = "builtins"; Fake.__name__ = "ValueError"; Fake.__qualname__ = "ValueError"
        """,
    "a base renamed too": """
        class Base(BaseException):
            pass
        Base.__module__ = "builtins"; Base.__name__ = Base.__qualname__ = "Exception"
        class Fake(Base):
            pass
        Fake.__module__ = "builtins"; Fake.__name__ = Fake.__qualname__ = "ValueError"
        """,
    "a metaclass that claims to be equal to everything": """
        class Meta(type):
            def __eq__(cls, other):
                return True
            def __hash__(cls):
                return hash(ValueError)
            __module__ = "builtins"
        class Fake(BaseException, metaclass=Meta):
            __module__ = "builtins"
        Fake.__name__ = "ValueError"
        """,
}


@pytest.mark.parametrize("name", list(FAKE_BUILTINS))
def test_an_exception_class_named_like_a_builtin_does_not_pass_raises(
    grader: Grader, refusing: Exercise, name: str
) -> None:
    source = src(FAKE_BUILTINS[name]) + src(
        """
        def solve(x):
            raise Fake("not a ValueError")
        """
    )
    report = grader.grade(refusing, source)
    first = report.tests[0]
    assert not first.passed, first.detail
    assert "not the builtin ValueError" in first.detail, first.detail
    # Whatever it is named, it is an Exception only if it derives from the real one.
    assert report.tests[1].passed is (name == "renamed"), report.tests[1].detail


def test_a_subclass_of_the_real_builtin_still_passes_raises(
    grader: Grader, refusing: Exercise
) -> None:
    source = src(
        """
        class NegativeError(ValueError):
            pass

        def solve(x):
            raise NegativeError("x must be >= 0")
        """
    )
    assert full_marks(grader.grade(refusing, source))


# ------------------------------------------------------------------------------------------------
# 04: every repetition of a `repeat` step counts for `inputs_unchanged`


@pytest.fixture(scope="module")
def repeated() -> Exercise:
    check = [{"check": "inputs_unchanged"}, {"check": "allclose"}]
    return _exercise(
        [
            {
                "name": "inputs unchanged over repetitions",
                "steps": [
                    {"call": {"args": [_array([1.0, 2.0, 3.0])]}, "repeat": 5, "expect": check}
                ],
            },
            {
                "name": "a named input unchanged over repetitions",
                "let": {"x": _array([1.0, 2.0, 3.0])},
                "steps": [{"call": {"args": [{"$ref": "x"}]}, "repeat": 5, "expect": check}],
            },
        ]
    )


# Which calls (1-based, per process) change the caller's array in place.
MUTATING_CALLS = {
    "all but every fifth": "n % 5 != 0",
    "only the first": "n in (1, 6)",
    "only a middle one": "n in (3, 8)",
}


@pytest.mark.parametrize("name", list(MUTATING_CALLS))
def test_inputs_changed_in_any_repetition_fail_inputs_unchanged(
    grader: Grader, repeated: Exercise, name: str
) -> None:
    source = src(
        f"""
        _calls = [0]

        def solve(x):
            _calls[0] += 1
            n = _calls[0]
            out = x * 2.0
            if {MUTATING_CALLS[name]}:
                x += 0.0 * x + 100.0  # the bug: the caller's array changes
                x -= 100.0 - 7.0
            return out
        """
    )
    report = grader.grade(repeated, source)
    first = report.tests[0]
    assert not first.passed, first.detail
    assert "modified its input" in first.detail and "repetition" in first.detail, first.detail
    assert not report.tests[1].passed, report.tests[1].detail


def test_a_repeated_step_that_leaves_its_inputs_alone_passes(
    grader: Grader, repeated: Exercise
) -> None:
    assert full_marks(grader.grade(repeated, repeated.reference))


def test_new_object_after_a_step_repeated_beyond_what_is_remembered_is_refused() -> None:
    step = {"call": {"args": [_array([1.0])]}, "repeat": 9, "expect": [{"check": "allclose"}]}
    later = {"call": {"args": [_array([1.0])]}, "expect": [{"check": "new_object"}]}
    with pytest.raises(SpecError, match="new_object check after step 1, repeated 9 times"):
        _exercise([{"name": "fresh", "steps": [step, later]}])
    _exercise([{"name": "fresh", "steps": [{**step, "repeat": 8}, later]}])  # within: accepted


# ------------------------------------------------------------------------------------------------
# 06: no test pays for a property alone

STUB = """
def clip_grad_norm(grads, max_norm, eps=1e-6):
    if not max_norm > 0:
        raise ValueError("max_norm")
    if not eps >= 0:
        raise ValueError("eps")
    return ({} if isinstance(grads, dict) else []), 0.0
"""


def test_a_stub_earns_no_property_points_on_clip_grad_norm(grader: Grader, clip: Exercise) -> None:
    report = grader.grade(clip, src(STUB))
    passed = {t.name for t in report.tests if t.passed}
    # What the stub does do: refuse bad arguments, and the empty list's answer is ([], 0.0).
    assert passed == {"bad arguments raise ValueError", "an empty list has norm 0"}, passed


def test_a_test_that_looks_at_no_output_value_is_refused_by_the_bank_check() -> None:
    call = {"call": {"args": [_array([1.0])]}}
    exercise = _exercise(
        [
            {"name": "new object only", "steps": [{**call, "expect": [{"check": "new_object"}]}]},
            {"name": "dtype and shape", "steps": [{**call, "expect": [{"check": "dtype"}]}]},
            {"name": "with values", "steps": [{**call, "expect": [{"check": "equal"}]}]},
            {
                "name": "refuses",
                "steps": [{"call": {"args": [-1.0]}, "expect": [{"check": "raises"}]}],
            },
        ]
    )
    problems = property_only_tests(exercise)
    assert len(problems) == 2
    assert "'new object only': none of its checks looks at an output's value" in problems[0]
    assert "'dtype and shape'" in problems[1]
