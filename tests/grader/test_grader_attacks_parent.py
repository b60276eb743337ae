"""Attacks on the trusted parent: hidden inputs leaking into what a student sees, output data made
to exhaust or crash the grading process, and runaway code run more than once.

Every attack is a real submission through the real sandbox (the same protections as
test_grader_attacks.py: tight limits, no process left behind).
"""

from __future__ import annotations

import os
import textwrap
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from grader_helpers import full_marks

from grader import Exercise, Grader, GradeReport
from grader.protocol import TAMPERED, TEXT_TOO_LARGE, RecordReader, Run, build_job
from grader.values import Unsupported

pytestmark = pytest.mark.usefixtures("leaves_nothing")


# A value only the hidden test's inputs hold: it must appear nowhere a student can look.
SECRET = 31415.92653
X_SIZE = 20000


def src(code: str) -> str:
    return textwrap.dedent(code).lstrip()


def _array(values: list[float]) -> dict[str, Any]:
    return {"$array": {"values": values, "dtype": "float64"}}


@pytest.fixture(scope="module")
def leaky() -> Exercise:
    """`solve(x) = 2 x`: a visible test, a visible test whose check divides the output by a
    (20000,) input (as dropout's mean-preservation test does), a hidden test holding SECRET."""
    return Exercise.from_dict(
        {
            "slug": "parent-attack-target",
            "title": "Double it",
            "entry": {"name": "solve", "kind": "function", "signature": "solve(x)"},
            "limits": {"wall_seconds": 3, "cpu_seconds": 2, "memory_mib": 512},
            "tests": [
                {
                    "name": "doubles",
                    "steps": [
                        {
                            "call": {"args": [_array([1.0, 2.5, -3.0])]},
                            "expect": [{"check": "equal"}, {"check": "allclose", "path": [0]}],
                        }
                    ],
                },
                {
                    "name": "doubles a long input",
                    "let": {
                        "x": {
                            "$array": {
                                "random": "uniform",
                                "low": 0.5,
                                "high": 1.5,
                                "shape": [X_SIZE],
                                "seed": 1,
                            }
                        }
                    },
                    "steps": [
                        {
                            "call": {"args": [{"$ref": "x"}]},
                            "expect": [
                                {
                                    "check": "mean",
                                    "of": {"$div": [{"$out": []}, {"$ref": "x"}]},
                                    "expected": 2.0,
                                    "range": [0, 4],
                                }
                            ],
                        }
                    ],
                },
                {
                    "name": "doubles a secret",
                    "hidden": True,
                    "points": 2,
                    "steps": [
                        {
                            "call": {"args": [_array([SECRET, 2.0])]},
                            "expect": [{"check": "allclose"}],
                        }
                    ],
                },
            ],
            "reference": "def solve(x):\n    return x * 2\n",
        }
    )


def visible_text(report: GradeReport) -> str:
    """Everything of a report a student can see, and the submission's own output."""
    return repr(report.to_dict()) + report.output


# ------------------------------------------------------------------------------------------------
# hidden inputs stay out of everything a student sees

# Finds the hidden test's inputs anywhere in its process (never spelling the secret out, so that
# its own source does not count): the job data, the harness's frames, gc objects, open files.
HUNT = """
    import gc, math, os, sys
    import numpy as np

    _memo = []
    _T = 1e4 * math.pi

    def _has(v, depth=0):
        if type(v) is float:
            return v is not _T and abs(v - _T) < 1e-3
        if isinstance(v, np.ndarray):
            return v.dtype.kind == "f" and bool(np.any(np.abs(v - _T) < 1e-3))
        if depth < 8 and isinstance(v, (list, tuple)):
            return any(_has(w, depth + 1) for w in v)
        if depth < 8 and isinstance(v, dict):
            return any(_has(w, depth + 1) for w in v.values())
        return False

    def _hunt():
        if _memo:
            return _memo[0]
        found = []
        try:  # refused in the sandbox (ValueError), like the frames below
            objects = gc.get_objects()
            found += [repr(o)[:300] for o in objects if isinstance(o, (dict, list)) and _has(o)]
        except ValueError:
            pass
        try:
            frame = sys._getframe()
        except ValueError:
            frame = None
        while frame is not None:
            found += [repr(v)[:300] for v in frame.f_locals.values() if _has(v)]
            frame = frame.f_back
        for fd in range(64):
            try:
                os.lseek(fd, 0, 0)
                data = os.read(fd, 1 << 20)
            except OSError:
                continue
            if b"%d" % int(_T) in data:
                found.append(repr(data[:400]))
        _memo.append(found)
        return found
    """

LEAKS = {
    "in a visible test's exception": HUNT
    + """
    def solve(x):
        found = _hunt()
        if found:
            raise ValueError("LEAK " + " | ".join(found))
        return x * 2
    """,
    "in a visible test's output": HUNT
    + """
    def solve(x):
        found = _hunt()
        return ["LEAK", *found] if found else x * 2
    """,
    "printed": HUNT
    + """
    print("LEAK", _hunt(), flush=True)

    def solve(x):
        print("LEAK", _hunt(), flush=True)
        return x * 2
    """,
    "while loading": HUNT
    + """
    _found = _hunt()
    if _found:
        raise ValueError("LEAK " + " | ".join(_found))

    def solve(x):
        return x * 2
    """,
}


@pytest.mark.parametrize("name", list(LEAKS))
def test_hidden_inputs_never_reach_what_a_student_sees(
    grader: Grader, leaky: Exercise, name: str
) -> None:
    report = grader.grade(leaky, src(LEAKS[name]))
    assert "31415" not in visible_text(report), visible_text(report)[:2000]
    # The hunt found nothing where it ran for the visible tests, so it passes them.
    assert report.tests[0].passed, report.to_dict()


def test_a_hidden_run_that_fails_to_load_shows_only_the_kind_of_failure(
    grader: Grader, leaky: Exercise
) -> None:
    # A module cannot tell at load which run it is in (nothing of the job is in its reach): this
    # one fails to load in half of its runs, and is graded until only its hidden run failed.
    source = src(
        """
        import os

        if os.urandom(1)[0] < 128:
            raise ValueError("LEAK " + repr(os.getpid()))

        def solve(x):
            return x * 2
        """
    )
    for _ in range(60):
        report = grader.grade(leaky, source)
        if report.status == "graded" and not report.tests[2].passed:
            break
    assert report.status == "graded"
    assert [t.passed for t in report.tests] == [True, True, False]
    assert report.tests[2].message == "failed: raised ValueError while loading"
    assert "LEAK" in report.tests[2].detail  # instructors still see what happened


def test_a_run_reports_only_on_the_tests_it_holds(leaky: Exercise) -> None:
    # Defense in depth (the parent alone, no sandbox): the visible run cannot claim a hidden
    # test's result, whatever it knows of the answer.
    job = build_job(leaky, leaky.reference, [0, 1])
    setup = b'{"t":"setup","layers":{}}\n{"t":"loading"}\n{"t":"load","ok":true}\n'
    forged = b'{"t":"test","i":2,"steps":[{"out":1}]}\n'
    run = Run()
    reader = RecordReader(run, job)
    reader.feed(setup + forged)
    reader.close()
    assert run.protocol_error == TAMPERED and 2 not in run.tests


# ------------------------------------------------------------------------------------------------
# output data cannot exhaust or crash the grading process

MIB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


@pytest.fixture
def rss_watch() -> Iterator[Callable[[Callable[[], Any]], tuple[Any, float, float]]]:
    """Run a function while sampling this process's RSS: (result, peak growth, growth after),
    in MiB above the RSS just before."""

    def watch(fn: Callable[[], Any]) -> tuple[Any, float, float]:
        base = _rss()
        peak = base
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.002):
                peak = max(peak, _rss())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            result = fn()
        finally:
            done.set()
            sampler.join()
        after = _rss()
        return result, (max(peak, after) - base) / MIB, (after - base) / MIB

    yield watch


def forge(record: str) -> str:
    """A submission that writes `record` (a bytes expression) into the result channel."""
    return src(
        f"""
        import os

        def solve(x):
            os.write(3, {record})
            return x * 2
        """
    )


HOSTILE = {
    # an (1000, 1) output divided by a (20000,) input would broadcast to 20 million elements
    "an output shaped to broadcast": (
        src(
            """
            import numpy as np

            def solve(x):
                return np.ones((1000, 1)) if x.size > 100 else x * 2
            """
        ),
        1,
        "expected an output of shape (20000,), got shape (1000, 1)",
    ),
    # Records the harness writes for the outputs themselves (forged ones are tampering, below).
    "a flood of empty lists": (
        src(
            """
            def solve(x):
                return [[] for _ in range(300_000)]
            """
        ),
        0,
        "too large",
    ),
    "a flood of tiny numbers": (
        src(
            """
            def solve(x):
                return [0.5] * 300_000
            """
        ),
        0,
        "too large",
    ),
    "a forged flood": (
        forge("""b'{"t":"test","i":0,"steps":[{"out":[' + b'[],' * 2_500_000 + b'[]]}]}\\n'"""),
        0,
        "tampered",
    ),
    "a test index of 1e999": (forge("""b'{"t":"begin","i":1e999}\\n'"""), 0, "tampered"),
    "an integer too large for a float": (
        src(
            """
            def solve(x):
                return [10**3999] if x.size == 3 else x * 2
            """
        ),
        0,
        "got an integer of 4000 digits",
    ),
    # json.loads makes a string with one astral character 4 bytes per character: the channel's
    # cap on bytes is not a cap on what they decode to.
    "a long string with one astral character": (
        src(
            """
            S = "a" * 8_300_000 + "\\U0001F600"

            def solve(x):
                return S
            """
        ),
        0,
        "returned a string of 8,300,001 characters (the grader takes strings of at most 100,000)",
    ),
    "many strings with astral characters": (
        src(
            """
            S = ["a" * 99_999 + "\\U0001F600" for _ in range(60)]

            def solve(x):
                return S
            """
        ),
        0,
        "the output is too large: a record whose text would take more than 8 MiB",
    ),
    # Up to the result cap in float64 arrays (24 MB a call): what decodes is bounded, and the
    # comparisons make no copies wider than the data.
    "float64 arrays up to the result cap": (
        src(
            """
            import numpy as np

            def solve(x):
                return [np.full(1_000_000, 2.0) for _ in range(3)]
            """
        ),
        0,
        "got a list",
    ),
    "a huge forged load failure": (
        src(
            """
            import os
            os.write(3, b'{"t":"load","ok":false,"kind":"exception","exc":{"type":"E","message":"'
                     + b"A" * 6_000_000 + b'"}}\\n')

            def solve(x):
                return x * 2
            """
        ),
        None,
        "",
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_output_fails_the_submission_not_the_grader(
    grader: Grader, leaky: Exercise, rss_watch, name: str
) -> None:
    source, failing, expected = HOSTILE[name]
    grader.grade(leaky, leaky.reference)  # warm: the reference outputs are cached
    report, peak, after = rss_watch(lambda: grader.grade(leaky, source))
    assert isinstance(report, GradeReport)  # nothing escaped Grader.grade
    assert peak < 64 and after < 64, (peak, after)
    assert not full_marks(report)
    if failing is not None:
        assert not report.tests[failing].passed
        assert expected in report.tests[failing].detail, report.tests[failing].detail
    assert len(report.feedback) < 5000 and all(len(t.message) < 20000 for t in report.tests)


def test_what_records_decode_to_is_bounded_while_they_are_read(leaky: Exercise) -> None:
    # The parent alone, no sandbox: the records the harness would write for long strings (or
    # the submission, with the run's key in hand), read as they arrive.
    job = build_job(leaky, leaky.reference, [0, 1])
    setup = b'{"t":"setup","layers":{}}\n{"t":"loading"}\n{"t":"load","ok":true}\n'

    def record(i: int, out: str) -> bytes:
        return b'{"t":"test","i":%d,"steps":[{"out":%s}]}\n' % (i, out.encode())

    # One string of 3 million characters and an astral one: 12 MB once parsed.
    run = Run()
    reader = RecordReader(run, job)
    reader.feed(setup + record(0, '"' + "a" * 3_000_000 + '\\ud83d\\ude00"'))
    assert run.protocol_error == TEXT_TOO_LARGE and not run.tests
    # Records within that, whose values together outgrow what a run may keep: the rest is
    # Unsupported, with a message that says why.
    strings = "[" + ",".join(['"' + "a" * 99_990 + '\\u20ac"'] * 30) + "]"
    run = Run()
    reader = RecordReader(run, job)
    reader.feed(setup + record(0, strings) + record(1, strings))
    assert run.protocol_error is None, run.protocol_error
    kept = run.tests[0][0]["out"] + run.tests[1][0]["out"]
    dropped = [v for v in kept if isinstance(v, Unsupported)]
    assert 0 < len(dropped) < len(kept)
    assert all("MiB the grader keeps of a run's outputs" in v.description for v in dropped)


def test_exception_text_from_the_sandbox_is_valid_text(grader: Grader, leaky: Exercise) -> None:
    # A lone surrogate cannot be encoded as UTF-8 and PostgreSQL text holds no NUL: either would
    # make storing the feedback fail.
    source = src(
        """
        def solve(x):
            raise ValueError("bad \\ud800 and \\x00 here")
        """
    )
    report = grader.grade(leaky, source)
    message = report.tests[0].message
    assert "ValueError" in message and "here" in message
    message.encode("utf-8")
    assert "\x00" not in message


# ------------------------------------------------------------------------------------------------
# runaway code runs once


def test_a_timeout_is_not_run_again(grader: Grader, leaky: Exercise) -> None:
    source = src(
        """
        import time

        def solve(x):
            time.sleep(3600)
        """
    )
    report = grader.grade(leaky, source)
    assert report.timings["runs"] == 1
    assert "timed out" in report.tests[0].message
    assert report.tests[1].message.startswith("not run") and "timed out" in report.tests[1].message
    assert report.tests[2].message == "failed: timed out"
