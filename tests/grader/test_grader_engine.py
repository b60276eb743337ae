"""The engine end to end: bank exercises, spec, reports, zygote repair, CLI."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import signal
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner
from grader_helpers import EXERCISES, full_marks, own_base_uid

from grader import Exercise, Grader, SandboxUnavailable, SpecError, load_exercise
from grader.cli import grade_command
from grader.values import DecodeError, decode, decode_npy, encode
from question_bank.exercise_check import check_exercise


@pytest.fixture(scope="module")
def dropout() -> Exercise:
    return load_exercise(EXERCISES / "dropout")


@pytest.fixture(scope="module")
def early_stopping() -> Exercise:
    return load_exercise(EXERCISES / "early-stopping")


# ------------------------------------------------------------------------------------------------
# the pinned exercises, proven against their mutants and equivalents


@pytest.mark.parametrize("slug", ["dropout", "early-stopping"])
def test_bank_exercise_is_sound(grader: Grader, slug: str) -> None:
    exercise = load_exercise(EXERCISES / slug)
    assert len(exercise.mutants) >= 4 and exercise.equivalents
    assert check_exercise(exercise, grader, repeats=2) == []


def test_check_exercise_reports_a_mutant_that_passes(grader: Grader, dropout: Exercise) -> None:
    broken = copy.deepcopy(dropout)
    broken.mutants = {
        "not_really.py": "# expect: drop rate matches p: zeroed\n" + dropout.reference
    }
    problems = check_exercise(broken, grader, repeats=1)
    assert any("not_really.py: gets full marks" in p for p in problems)
    assert any("should fail 'drop rate matches p'" in p for p in problems)


def test_check_exercise_reports_a_broken_reference(grader: Grader, dropout: Exercise) -> None:
    broken = copy.deepcopy(dropout)
    broken.reference = "def dropout(x, p, training=True, rng=None):\n    return 1 / 0\n"
    (problem,) = check_exercise(broken, grader)
    assert "reference" in problem and "ZeroDivisionError" in problem


# ------------------------------------------------------------------------------------------------
# reports and feedback


def test_report_matches_the_contract(grader: Grader, dropout: Exercise) -> None:
    report = grader.grade(dropout, dropout.mutants["no_scaling.py"]).to_dict()
    assert report["status"] == "graded"
    assert 0 < report["score"] < report["max_score"] == 20
    assert {
        "status",
        "score",
        "max_score",
        "tests",
        "feedback",
        "sandbox",
        "timings",
        "exercise_version",
    } <= set(report)
    for test in report["tests"]:
        assert set(test) == {"name", "passed", "score", "max_score", "message", "hidden"}
    assert report["exercise_version"] == dropout.fingerprint
    json.dumps(report, allow_nan=False)


def test_visible_feedback_says_where_arrays_differ(grader: Grader, dropout: Exercise) -> None:
    report = grader.grade(dropout, dropout.mutants["modifies_x_in_place.py"])
    message = next(t.message for t in report.tests if t.name == "does not modify x")
    assert "changed in place" in message and "of 100 elements differ" in message
    assert "first at index (0, 0)" in message and "max abs error" in message


def test_hidden_tests_show_only_a_verdict(grader: Grader, dropout: Exercise) -> None:
    report = grader.grade(dropout, dropout.mutants["no_scaling.py"])
    hidden = next(t for t in report.tests if t.name == "works on 3-d input")
    assert hidden.hidden and not hidden.passed and hidden.message == "failed: wrong result"
    assert "allowed values" in hidden.detail  # kept for exercise checks, not in to_dict()


def test_student_traceback_only(grader: Grader, dropout: Exercise) -> None:
    source = (
        "def helper(x):\n    return x[99]\n\ndef dropout(x, p, training=True, rng=None):\n"
        "    return helper(x)\n"
    )
    report = grader.grade(dropout, source)
    message = report.tests[0].message
    assert "IndexError" in message and 'File "submission.py", line 2, in helper' in message
    assert "_child" not in message and "grader" not in message.replace("grader", "", 0)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def dropout(x, p:\n    pass\n", "syntax error: line 1"),
        ("import scipy\n", "ModuleNotFoundError"),
        (
            "def drop_out(x, p, training=True, rng=None):\n    return x\n",
            "does not define `dropout`",
        ),
        ("dropout = 3\n", "should be a function"),
        ("raise RuntimeError('boom at import')\n", "boom at import"),
    ],
    ids=["syntax error", "forbidden import", "missing function", "not a function", "import error"],
)
def test_ungradable_submissions_fail_with_a_reason(
    grader: Grader, dropout: Exercise, source: str, expected: str
) -> None:
    report = grader.grade(dropout, source)
    assert report.status == "failed" and report.score == 0
    assert expected in report.feedback


def test_wrong_signature_is_named(grader: Grader, dropout: Exercise) -> None:
    report = grader.grade(dropout, "def dropout(x, p):\n    return x.copy()\n")
    assert report.status == "graded"
    message = report.tests[0].message
    assert "wrong signature" in message and "dropout(x, p, training=True, rng=None)" in message


def test_output_is_kept_but_not_reported(grader: Grader, dropout: Exercise) -> None:
    source = "print('hello from the student')\n" + dropout.reference
    report = grader.grade(dropout, source)
    assert full_marks(report) and "hello from the student" in report.output
    assert "hello from the student" not in json.dumps(report.to_dict())


def test_verdicts_are_reproducible(grader: Grader, early_stopping: Exercise) -> None:
    source = early_stopping.mutants["patience_off_by_one.py"]
    first, second = (grader.grade(early_stopping, source) for _ in range(2))
    assert [t.passed for t in first.tests] == [t.passed for t in second.tests]
    assert 0 < first.score < first.max_score


# ------------------------------------------------------------------------------------------------
# sandbox status and zygote repair


def test_every_layer_is_active(grader: Grader) -> None:
    status = grader.sandbox_status()
    for layer in (
        "uid_separation",
        "no_supplementary_groups",
        "empty_env",
        "netns",
        "mountns",
        "pidns",
        "private_tmp",
        "rlimits",
        "no_new_privs",
        "wall_clock_kill",
    ):
        assert status[layer] is True, (layer, status)
    assert status["ok"] and not status["unsafe_allowed"] and status["errors"] == {}


def test_refuses_to_grade_without_uid_separation(dropout: Exercise) -> None:
    with Grader(slots=1, base_uid=0, allow_unsafe=False) as g:
        status = g.sandbox_status()
        assert status["uid_separation"] is False and "uid_separation" in status["missing"]
        with pytest.raises(SandboxUnavailable, match="HOLDOUT_SANDBOX_ALLOW_UNSAFE"):
            g.grade(dropout, dropout.reference)


def test_dead_zygote_is_restarted(dropout: Exercise) -> None:
    with Grader(slots=1, base_uid=own_base_uid(0)) as g:
        assert full_marks(g.grade(dropout, dropout.reference))
        old = g.pool._zygote
        assert old is not None
        os.kill(old.info["pid"], signal.SIGKILL)
        old.proc.wait()
        assert full_marks(g.grade(dropout, dropout.reference))
        assert g.pool._zygote is not None and g.pool._zygote.info["pid"] != old.info["pid"]


def test_zygote_killed_mid_job_is_retried(dropout: Exercise) -> None:
    source = "import time\ntime.sleep(1.0)\n" + dropout.reference
    with Grader(slots=1, base_uid=own_base_uid(1)) as g:
        g.reference_outputs(dropout)
        zygote = g.pool._zygote
        assert zygote is not None
        reports = []
        worker = threading.Thread(target=lambda: reports.append(g.grade(dropout, source)))
        worker.start()
        time.sleep(0.4)
        os.kill(zygote.info["pid"], signal.SIGKILL)
        worker.join()
        assert full_marks(reports[0])


# ------------------------------------------------------------------------------------------------
# spec and protocol, in the parent only


def test_spec_round_trips_through_json(dropout: Exercise) -> None:
    data = json.loads(json.dumps(dropout.to_dict(), allow_nan=False))
    again = Exercise.from_dict(data)
    assert again.fingerprint == dropout.fingerprint
    assert again.mutants == dropout.mutants and again.prompt == dropout.prompt


def test_fingerprint_tracks_grading_parts_only(dropout: Exercise) -> None:
    data = dropout.to_dict()
    assert Exercise.from_dict({**data, "prompt": "changed"}).fingerprint == dropout.fingerprint
    tests = copy.deepcopy(data["tests"])
    tests[0]["points"] = 2
    changed = Exercise.from_dict({**data, "tests": tests, "points": data["points"] + 1})
    assert changed.fingerprint != dropout.fingerprint


def test_public_dict_hides_answers(dropout: Exercise) -> None:
    public = dropout.public_dict()
    text = json.dumps(public)
    assert not {"reference", "mutants", "equivalents"} & set(public)
    assert dropout.reference not in text and "keep = rng.random" not in text
    hidden = [t for t in public["tests"] if t["hidden"]]
    assert hidden and all(set(t) == {"name", "points", "hidden"} for t in hidden)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"slug": "Bad Slug"}, "slug"),
        (
            {"tests": [{"name": "t", "steps": [{"call": {}, "expect": [{"check": "magic"}]}]}]},
            "unknown check 'magic'",
        ),
        ({"tests": [{"name": "t", "steps": [{"call": {"args": [float("nan")]}}]}]}, "$float"),
        (
            {
                "tests": [
                    {
                        "name": "t",
                        "steps": [
                            {
                                "call": {},
                                "expect": [
                                    {
                                        "check": "frequency",
                                        "of": {"$out": []},
                                        "p": 0.5,
                                        "delta": 0.01,
                                    }
                                ],
                            }
                        ],
                    }
                ]
            },
            "delta",
        ),
        ({"tests": [{"name": "t", "steps": [{"new": {}}]}]}, "'new' needs entry.kind class"),
        ({"mutants": {"m.py": "# expect: nope: x\n"}}, "unknown test 'nope'"),
        ({"limits": {"memory_mib": 10**6}}, "limits.memory_mib"),
    ],
    ids=["slug", "check", "nan", "delta", "action", "mutant", "limits"],
)
def test_spec_validation_messages(dropout: Exercise, patch: dict, message: str) -> None:
    data = {**dropout.to_dict(), **patch}
    if "tests" in patch:
        data.pop("points")
    with pytest.raises(SpecError, match=None) as info:
        Exercise.from_dict(data)
    assert message in str(info.value)


def test_decode_rejects_lying_npy_headers() -> None:
    blobs: list = []
    good = encode(np.arange(6, dtype=np.float32).reshape(2, 3), blobs)
    raw = [b"".join(blob) for blob in blobs]
    assert decode(good, list(raw)).shape == (2, 3)
    # A well-formed header (same length, padding shortened) that claims far more data than sent.
    lying = raw[0].replace(b"(2, 3), }" + b" " * 10, b"(200000, 300000), }")
    assert len(lying) == len(raw[0])
    with pytest.raises(DecodeError, match="does not match"):
        decode_npy(lying)
    with pytest.raises(DecodeError):
        decode({"$nd": 0}, [b"\x93NUMPY garbage"])
    with pytest.raises(DecodeError, match="out of range"):
        decode({"$nd": 1}, raw)
    with pytest.raises(DecodeError, match="out of range"):
        decode({"$nd": True}, raw)
    with pytest.raises(DecodeError, match="referenced twice"):
        decode({"$tuple": [{"$nd": 0}, {"$nd": 0}]}, list(raw))
    assert "object" in decode(encode(np.array([object()]), [])).description


def test_cli_grades_and_reports_usage_errors(dropout: Exercise, tmp_path) -> None:
    answer = tmp_path / "answer.py"
    answer.write_text(dropout.mutants["float64_mask.py"])
    runner = CliRunner()
    result = runner.invoke(grade_command, ["dropout", str(answer), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["status"] == "graded" and 0 < report["score"] < report["max_score"]
    table = runner.invoke(grade_command, [str(EXERCISES / "dropout"), str(answer)])
    assert table.exit_code == 0 and "FAIL" in table.output and "Score: 18 / 20" in table.output
    assert runner.invoke(grade_command, ["no-such-exercise", str(answer)]).exit_code == 2
    assert runner.invoke(grade_command, ["dropout", str(tmp_path / "missing.py")]).exit_code == 2


def test_check_exercise_refuses_a_test_that_checks_no_value(
    grader: Grader, dropout: Exercise
) -> None:
    # A stub returning np.zeros_like(x) passes a test of `inputs_unchanged` alone.
    broken = copy.deepcopy(dropout)
    i = next(i for i, t in enumerate(broken.tests) if t.name == "does not modify x")
    test = broken.tests[i]
    steps = [
        {**s, "expect": [c for c in s["expect"] if c["check"] == "inputs_unchanged"]}
        for s in test.steps
    ]
    broken.tests[i] = dataclasses.replace(test, steps=steps)
    problems = check_exercise(broken, grader, repeats=1)
    (problem,) = [p for p in problems if "none of its checks" in p]
    assert problem.startswith("dropout/exercise.yaml: test 'does not modify x': ")
    assert "add a check of the values" in problem
    assert problems == [problem]  # otherwise sound: the reference and the mutants still pass
