"""How outputs are carried, compared and reported: numpy scalars and 0-d arrays, every failing
check in the feedback, reference checks on `repeat` steps, the spec's folder listing."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pytest
from grader_helpers import REPO, full_marks

from grader import Exercise, Grader
from grader.checks import StepContext, run_check
from grader.feedback import failure_text
from grader.values import DecodeError, decode, decode_npy, encode, npy_bytes


def src(code: str) -> str:
    return textwrap.dedent(code).lstrip()


X = {"$array": {"values": [1.5, -2.0, 0.25, 4.0], "dtype": "float64"}}
X_SHOWN = "[ 1.5 , -2.  ,  0.25,  4.  ] (float64, shape (4,))"


def exercise(reference: str, tests: list[dict[str, Any]], name: str = "f") -> Exercise:
    return Exercise.from_dict(
        {
            "slug": "outputs",
            "title": "Outputs",
            "entry": {"name": name, "kind": "function", "signature": f"{name}(x)"},
            "limits": {"wall_seconds": 5},
            "tests": tests,
            "reference": src(reference),
        }
    )


# ------------------------------------------------------------------------------------------------
# numpy scalars and 0-d arrays


def round_trip(value: Any) -> Any:
    blobs: list = []
    data = encode(value, blobs)
    return decode(data, [b"".join(blob) for blob in blobs])


@pytest.mark.parametrize(
    "value",
    [
        np.float64(0.1),
        np.float32(-1.5),
        np.float16(2.0),
        np.longdouble(1.25),
        np.int64(-7),
        np.int8(3),
        np.uint64(2**64 - 1),
        np.bool_(True),
        np.bool_(False),
        np.complex128(1 - 2j),
        np.float64("nan"),
    ],
    ids=repr,
)
def test_numpy_scalars_round_trip(value: np.generic) -> None:
    got = round_trip(value)
    assert type(got) is type(value)
    assert got == value or (np.isnan(got) and np.isnan(value))


@pytest.mark.parametrize(
    "value",
    [
        np.array(3.5),
        np.array(True),
        np.array(7, dtype=np.int32),
        np.zeros((0, 4), dtype=bool),
        np.arange(12, dtype=np.int16).reshape(3, 4).T,  # not C-contiguous
        np.arange(10.0)[::3],  # strided
        np.arange(6, dtype=">f8").reshape(2, 3),  # big-endian
        np.ones((1,) * 20, dtype=np.complex64),
    ],
    ids=lambda a: f"{a.dtype}{a.shape}",
)
def test_arrays_round_trip_with_shape_and_dtype(value: np.ndarray) -> None:
    got = round_trip(value)
    assert type(got) is np.ndarray
    assert got.shape == value.shape and got.dtype == value.dtype
    assert np.array_equal(got, value)


def test_an_array_of_more_dimensions_than_decode_takes_is_an_unsupported_output() -> None:
    # numpy allows 64 dimensions, the channel 32: an honest output of 33 is "unsupported" (that
    # step fails), not a record the parent refuses as tampering (the whole run fails).
    got = round_trip(np.zeros((1,) * 33))
    assert type(got).__name__ == "Unsupported" and "33 dimensions" in got.description
    assert round_trip(np.zeros((1,) * 32)).shape == (1,) * 32


def test_encoded_arrays_are_plain_npy_files() -> None:
    import io

    for value in (np.float64(0.5), np.arange(6.0).reshape(2, 3)):
        again = np.load(io.BytesIO(npy_bytes(value)), allow_pickle=False)
        assert again.shape == np.shape(value) and np.array_equal(again, value)


def _npy(header: str, data: bytes = b"") -> bytes:
    text = header.encode()
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


@pytest.mark.parametrize(
    ("header", "data", "why"),
    [
        ("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8, "not allowed"),
        ("{'descr': '<M8[s]', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8, "header"),
        ("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", b"\0" * 32, "header"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", b"", "header"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}", b"\0" * 8, "header"),
        ("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }", b"\0" * 8, "header"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", b"\0" * 8, "not match"),
        ("{'descr': '<V8', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8, "not allowed"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': __import__('os'), }", b"", "header"),
    ],
    ids=["object", "datetime", "fortran", "negative", "key", "record", "short", "void", "code"],
)
def test_decode_rejects_anything_but_the_plain_header(header: str, data: bytes, why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        decode_npy(_npy(header, data))


def test_decode_rejects_other_npy_versions_and_scalars_with_a_shape() -> None:
    raw = bytearray(npy_bytes(np.arange(3.0)))
    raw[6] = 2
    with pytest.raises(DecodeError, match="version"):
        decode_npy(bytes(raw))
    with pytest.raises(DecodeError, match="scalar with a shape"):
        decode({"$scalar": 0}, [npy_bytes(np.arange(3.0))])


SUMMARY_REFERENCE = """
    import numpy as np

    def f(x):
        return {
            "mean": ((x - 1) ** 2).mean(),
            "count": np.int64(x.size),
            "negative": np.any(x < 0),
            "mean0d": np.array(x.mean()),
        }
    """
SUMMARY_TESTS = [
    {
        "name": key,
        "steps": [{"call": {"args": [X]}, "expect": [{"check": "equal", "path": [key]}, *more]}],
    }
    for key, more in [
        ("mean", [{"check": "type", "path": ["mean"]}, {"check": "allclose", "path": ["mean"]}]),
        ("count", [{"check": "type", "path": ["count"]}]),
        ("negative", [{"check": "type", "path": ["negative"]}]),
        ("mean0d", [{"check": c, "path": ["mean0d"]} for c in ("shape", "dtype")]),
    ]
]


def test_numpy_scalar_outputs_are_graded_like_python_numbers(grader: Grader) -> None:
    ex = exercise(SUMMARY_REFERENCE, SUMMARY_TESTS)
    assert full_marks(grader.grade(ex, ex.reference))
    python_types = """
        import numpy as np

        def f(x):
            return {
                "mean": float(np.mean((x - 1) ** 2)),
                "count": len(x),
                "negative": bool((x < 0).any()),
                "mean0d": np.asarray(np.mean(x)),
            }
        """
    assert full_marks(grader.grade(ex, src(python_types)))
    wrong = """
        import numpy as np

        def f(x):
            return {
                "mean": np.float32(((x - 1) ** 2).mean() + 1),
                "count": np.array(x.size),
                "negative": 0,
                "mean0d": np.array([x.mean()]),
            }
        """
    report = grader.grade(ex, src(wrong))
    assert report.status == "graded" and report.score == 0, report.feedback
    messages = {t.name: t.message for t in report.tests}
    assert "expected np.float64(4.703125), got np.float32(5.703125)" in messages["mean"]
    assert "expected a number, got a numpy array (int64, shape ())" in messages["count"]
    assert "expected a bool, got a number" in messages["negative"]
    assert "expected shape (), got shape (1,)" in messages["mean0d"]


# ------------------------------------------------------------------------------------------------
# every failing check of the failed step is reported


def test_feedback_lists_every_failing_check(grader: Grader) -> None:
    ex = exercise(
        "def f(x):\n    return x * 2\n",
        [
            {
                "name": "doubles",
                "steps": [
                    {
                        "call": {"args": [X]},
                        "expect": [
                            {"check": "equal", "message": "multiply by two"},
                            {"check": "shape", "message": "keep the shape"},
                            {"check": "dtype", "message": "keep the dtype"},
                            {"check": "all", "that": {"$ge": [{"$out": []}, -4]}},
                        ],
                    },
                    {"call": {"args": [X]}, "expect": [{"check": "equal", "message": "later"}]},
                ],
            }
        ],
    )
    report = grader.grade(ex, "import numpy as np\ndef f(x):\n    return (x * 3).astype('f4')\n")
    message = report.tests[0].message
    lines = message.splitlines()
    assert lines[0].startswith(f"step 1: f({X_SHOWN}): 4 of 4 elements differ")
    assert "  hint: multiply by two" in lines
    assert "  also: expected dtype float64, got dtype float32 (hint: keep the dtype)" in lines
    assert any(line.startswith("  also: 1 of 4 elements break the rule") for line in lines)
    assert "keep the shape" not in message and "later" not in message  # passed; not reached
    # A hidden test still says only that it failed.
    assert report.tests[0].detail == message


def test_failure_text_leaves_out_repeats_but_keeps_their_hints() -> None:
    text = failure_text(
        "step 2",
        [
            ("expected shape (3,), got shape (2,)", None),
            ("expected shape (3,), got shape (2,)", "mind the last row"),
            ("expected dtype float32, got dtype float64\n  more detail", "cast"),
            ("expected dtype float32, got dtype float64", "cast"),
        ],
    )
    assert text.splitlines() == [
        "step 2: expected shape (3,), got shape (2,)",
        "  hint: mind the last row",
        "  also: expected dtype float32, got dtype float64 (hint: cast)",
    ]


# ------------------------------------------------------------------------------------------------
# reference checks on repeat steps apply `path` per repetition, like $out


def _repeat_ctx(ref_outs: list[Any], got_outs: list[Any]) -> StepContext:
    step = {"call": {}, "repeat": len(ref_outs)}
    return StepContext(step=step, index=0, got={"out": got_outs}, ref={"out": ref_outs})


def test_reference_checks_on_repeat_steps_apply_path_per_repetition() -> None:
    ref = [(np.zeros(2, np.float32), 1.0) for _ in range(3)]
    same = [(np.zeros(2, np.float32), 1.0) for _ in range(3)]
    for name in ("equal", "allclose", "dtype", "shape", "type"):
        assert run_check({"check": name, "path": [0]}, _repeat_ctx(ref, same)) is None
    for name in ("equal", "allclose", "type"):
        assert run_check({"check": name}, _repeat_ctx(ref, same)) is None
    assert run_check({"check": "type", "path": [1]}, _repeat_ctx(ref, same)) is None
    third = [same[0], same[1], (np.zeros(2, np.float64), 2.0)]
    assert (
        run_check({"check": "dtype", "path": [0]}, _repeat_ctx(ref, third))
        == "repetition 3 of 3: expected dtype float32, got dtype float64"
    )
    assert run_check({"check": "equal", "path": [1]}, _repeat_ctx(ref, third)) == (
        "repetition 3 of 3: expected 1.0, got 2.0"
    )
    short = run_check({"check": "equal", "path": [0]}, _repeat_ctx(ref, same[:2]))
    assert short == "expected 3 outputs, one per repetition, got 2"


def test_repeat_step_reference_checks_through_the_sandbox(grader: Grader) -> None:
    twice = {"$mul": [{"$arg": 0}, 2]}
    ex = exercise(
        """
        import numpy as np

        def f(x):
            return (x * 2, x.sum())
        """,
        [
            {
                "name": "every repetition",
                "steps": [
                    {
                        "call": {"args": [X]},
                        "repeat": 4,
                        "expect": [
                            {"check": "equal", "path": [0]},
                            {"check": "dtype", "path": [0]},
                            {"check": "shape", "path": [0]},
                            {"check": "type", "path": [1]},
                            {"check": "allclose", "path": [1]},
                            {"check": "all", "that": {"$eq": [{"$out": [0]}, twice]}},
                        ],
                    }
                ],
            }
        ],
    )
    assert full_marks(grader.grade(ex, ex.reference))
    drifting = """
        calls = []

        def f(x):
            calls.append(1)
            return (x * 2 if len(calls) < 3 else x * 2 + 1, float(x.sum()))
        """
    report = grader.grade(ex, src(drifting))
    message = report.tests[0].message
    assert message.startswith(f"step 1: f({X_SHOWN}) (x4): repetition 3 of 4: ")
    assert "4 of 4 elements differ" in message and "also: 8 of 16 elements break" in message


# ------------------------------------------------------------------------------------------------
# the spec lists every file the bank requires


def test_spec_lists_explanation_md() -> None:
    spec = (REPO / "grader" / "SPEC.md").read_text()
    listing = spec.split("```", 2)[1]
    assert "explanation.md" in listing
