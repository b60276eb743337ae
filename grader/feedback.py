"""Scoring and feedback text: what each test's outcome means, in words a student can act on.

Hidden tests get only a fixed, short reason ("wrong result", "raised ValueError"), never text the
submission could have chosen.
"""

from __future__ import annotations

import functools
import re
import signal
import time
from dataclasses import dataclass
from typing import Any

from grader.checks import StepContext, run_check, short
from grader.protocol import Run
from grader.report import GradeReport, TestResult
from grader.spec import Exercise, TestSpec
from grader.values import ArrayCache, apply_mutation, materialize

# The tests' input arrays as the parent rebuilds them for every grading, built once per content.
_ARRAYS = ArrayCache()
# The exceptions a hidden test's feedback names (any other is "an exception"): the few that point
# a student to a kind of bug. Which one a hidden test shows is the submission's choice, made with
# the hidden inputs in hand; each name more is more of them it could spell out per submission.
HIDDEN_EXCEPTION_NAMES = frozenset(
    {
        "AttributeError",
        "IndexError",
        "KeyError",
        "NameError",
        "RecursionError",
        "TypeError",
        "ValueError",
        "ZeroDivisionError",
    }
)


@dataclass
class Abnormal:
    """A test that produced no result: the process timed out, crashed or exited."""

    reason: str
    hidden_reason: str


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def abnormal(run: Run, limits: dict[str, float]) -> Abnormal:
    st = run.status
    if run.overflow:
        return Abnormal(
            f"produced more than {limits['result_mib']:g} MiB of results", "output too large"
        )
    if run.protocol_error:
        return Abnormal(run.protocol_error, "invalid result")
    if "error" in st:
        return Abnormal(f"internal sandbox error ({st['error']})", "internal error")
    if st.get("cpu_exceeded"):
        # All of the job's processes together, counted by its cgroup.
        return Abnormal(
            f"exceeded the CPU time limit ({limits['cpu_seconds']:g} s)", "CPU time limit"
        )
    if st.get("timed_out"):
        return Abnormal(f"timed out (wall-clock limit {limits['wall_seconds']:g} s)", "timed out")
    sig = st.get("signal")
    if st.get("oom") and sig == signal.SIGKILL:
        # The kernel killed it: the job's processes together (tmpfs and memfd files included)
        # reached its memory limit.
        return Abnormal(
            f"ran out of memory (memory limit {limits['memory_mib']:g} MiB)", "out of memory"
        )
    if sig == signal.SIGXCPU or (
        sig == signal.SIGKILL and st.get("cpu", 0) >= limits["cpu_seconds"]
    ):
        return Abnormal(
            f"exceeded the CPU time limit ({limits['cpu_seconds']:g} s)", "CPU time limit"
        )
    if sig == signal.SIGXFSZ:
        return Abnormal(f"wrote a file larger than {limits['file_mib']:g} MiB", "file too large")
    if sig is not None:
        return Abnormal(f"crashed ({_signal_name(sig)})", "crashed")
    code = st.get("exit")
    if code == 4:
        return Abnormal("the sandbox refused to start", "internal error")
    return Abnormal(
        f"ended the process (exit code {code}) before all tests ran; do not call "
        "sys.exit, os._exit or close the result channel",
        "exited early",
    )


def load_failure(exercise: Exercise, load: dict[str, Any]) -> str:
    kind = load.get("kind")
    name = exercise.entry.name
    if kind == "syntax":
        return f"syntax error: {str(load.get('message', ''))[:500]}"
    if kind == "missing":
        return f"the submission does not define `{name}` (expected {exercise.entry.signature})"
    if kind in ("not_function", "not_class"):
        return f"`{name}` should be a {kind[4:]}: {exercise.entry.signature}"
    exc = load.get("exc") or {}
    return "raised an exception while loading: " + format_exception(exc)


def hidden_load_failure(load: dict[str, Any]) -> str:
    """Why the submission did not load, for hidden tests: from the run that held their inputs, so
    only the kind of failure, never its text."""
    kind = load.get("kind")
    if kind == "exception":
        return hidden_exception(load.get("exc") or {}) + " while loading"
    return {"syntax": "syntax error", "missing": "entry point missing"}.get(
        str(kind), "wrong kind of entry point"
    )


def format_exception(exc: dict[str, Any]) -> str:
    text = f"{exc.get('type')}: {exc.get('message')}"
    if "MemoryError" in exc.get("builtin_bases", []):
        text = f"ran out of memory ({exc.get('type')}: {exc.get('message')})"
    elif exc.get("type") == "RecursionError":
        text = f"recursion too deep (RecursionError: {exc.get('message')})"
    tb = exc.get("traceback") or []
    if tb:
        text += "\n" + "\n".join(tb)
    return text


def hidden_exception(exc: dict[str, Any]) -> str:
    name = exc.get("type", "")
    if "MemoryError" in exc.get("builtin_bases", []):
        return "out of memory"
    # Never a made-up class name, in which a submission could spell out the hidden inputs.
    return f"raised {name}" if name in HIDDEN_EXCEPTION_NAMES else "raised an exception"


_PARAM_RE = re.compile(r"\((.*)\)")


@functools.lru_cache(maxsize=1024)
def _param_names(signature: str) -> tuple[str, ...]:
    m = _PARAM_RE.search(signature)
    if not m:
        return ()
    names = []
    for part in m.group(1).split(","):
        name = part.split("=")[0].split(":")[0].strip().lstrip("*")
        if name and name not in ("self", "/"):
            names.append(name)
    return tuple(names)


def _describe_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_describe_value(v) for v in value) + "]"
    if not isinstance(value, dict):
        return repr(value)
    if len(value) == 1:
        ((tag, arg),) = value.items()
        if tag == "$ref":
            return str(arg)
        if tag == "$rng":
            return f"default_rng({arg})"
        if tag == "$float":
            return f"float({str(arg)!r})"
        if tag == "$tuple":
            return "(" + ", ".join(_describe_value(v) for v in arg) + ")"
        if tag == "$array":
            arr = _ARRAYS.get(arg)
            return short(arr) if arr.size <= 8 else f"<{arr.dtype} array, shape {arr.shape}>"
    return "{" + ", ".join(f"{k!r}: {_describe_value(v)}" for k, v in value.items()) + "}"


def _describe_step(exercise: Exercise, step: dict[str, Any], index: int) -> str:
    if "label" in step:
        return f"step {index + 1} ({step['label']})"
    name = exercise.entry.name
    for action in ("call", "new", "method"):
        if action in step:
            body = step[action]
            parts = [_describe_value(a) for a in body.get("args", [])]
            parts += [f"{k}={_describe_value(v)}" for k, v in body.get("kwargs", {}).items()]
            callee = f"obj.{body['name']}" if action == "method" else body.get("target", name)
            rep = f" (x{step['repeat']})" if step.get("repeat", 1) > 1 else ""
            return f"step {index + 1}: {callee}({', '.join(parts)}){rep}"
    if "get" in step:
        return f"step {index + 1}: obj.{step['get']}"
    if "train" in step:
        return f"step {index + 1}: the training run"
    return f"step {index + 1}"


def evaluate_test(
    exercise: Exercise,
    test: TestSpec,
    outcome: list[dict[str, Any]],
    ref: list[dict[str, Any]] | None,
    trace: list[Any] | None = None,
) -> tuple[str, str]:
    """("", "") when the test passes, else (full message, message for a hidden test).
    `trace`, if given, receives where it failed: (step index, indices of its failing checks)."""
    lets = {k: materialize(v, {}, None, _ARRAYS) for k, v in test.let.items()}
    params = list(_param_names(exercise.entry.signature))
    for j, step in enumerate(test.steps):
        desc = _StepName(exercise, step, j)
        if j >= len(outcome):
            return f"{desc}: no result (the step did not run)", "invalid result"
        got = outcome[j]
        if "mutate" in step:
            apply_mutation(lets, step["mutate"])
            continue
        checks = step.get("expect", [])
        expects_raise = any(c["check"] == "raises" for c in checks)
        if "signature" in got and not expects_raise:
            return (
                f"{desc}: wrong signature: {got['signature']} "
                f"(expected {exercise.entry.signature})",
                "wrong signature",
            )
        if "exc" in got and not expects_raise:
            return f"{desc}: {format_exception(got['exc'])}", hidden_exception(got["exc"])
        action = (
            next(a for a in ("call", "new", "method") if a in step)
            if any(a in step for a in ("call", "new", "method"))
            else None
        )
        body = step[action] if action else {}
        rep = 0 if step.get("repeat", 1) > 1 else None
        ctx = StepContext(
            step=step,
            index=j,
            got=got,
            ref=ref[j] if ref is not None and j < len(ref) else None,
            # Checks run right below, before any later `mutate` step changes `lets`.
            inputs=functools.partial(_arguments, body, lets, rep),
            repetition=functools.partial(_arguments, body, lets),
            lets=lets,
            others=outcome[:j],
            param_names=params if action == "call" and "target" not in body else [],
            lab=exercise.lab,
        )
        results = [_checked(c, ctx) for c in checks]
        failures = [(p, c.get("message")) for c, p in zip(checks, results, strict=True) if p]
        if failures:
            if trace is not None:
                trace.append((j, tuple(i for i, p in enumerate(results) if p)))
            return failure_text(desc, failures), "wrong result"
    return "", ""


MALFORMED = "malformed output: it could not be checked"


def _checked(check: dict[str, Any], ctx: StepContext) -> str | None:
    """A check's verdict; whatever data from the sandbox makes a check raise fails that check."""
    try:
        return run_check(check, ctx)
    except Exception as exc:
        return f"{MALFORMED} ({type(exc).__name__})"


def _arguments(
    body: dict[str, Any], lets: dict[str, Any], rep: int | None
) -> tuple[list[Any], dict[str, Any]]:
    """A step's arguments as the parent materializes them (for the checks that look at them)."""
    args = materialize(body.get("args", []), lets, rep, _ARRAYS)
    kwargs = materialize(body.get("kwargs", {}), lets, rep, _ARRAYS)
    return args, kwargs


class _StepName:
    """A step's description, worked out only when a message needs it (most steps pass)."""

    def __init__(self, exercise: Exercise, step: dict[str, Any], index: int) -> None:
        self.args = (exercise, step, index)

    def __str__(self) -> str:
        return _describe_step(*self.args)


def failure_text(desc: _StepName | str, failures: list[tuple[str, str | None]]) -> str:
    """Every failing check of a step: the first in full with its hint, each other one as one
    `also:` line (its first line and hint), repeated lines and hints left out."""
    (first, hint), rest = failures[0], failures[1:]
    lines = [f"{desc}: {first}"] + ([f"  hint: {hint}"] if hint else [])
    seen_problems, seen_hints = {first.split("\n", 1)[0]}, {hint}
    for problem, hint in rest:
        head = problem.split("\n", 1)[0]
        if head in seen_problems:
            if hint and hint not in seen_hints:
                seen_hints.add(hint)
                lines.append(f"  hint: {hint}")
            continue
        seen_problems.add(head)
        extra = f" (hint: {hint})" if hint and hint not in seen_hints else ""
        seen_hints.add(hint)
        lines.append(f"  also: {head}{extra}")
    return "\n".join(lines)


def score_test(
    exercise: Exercise, test: TestSpec, outcome: Any, ref: list[dict[str, Any]] | None
) -> TestResult:
    trace: list[Any] = []
    if isinstance(outcome, Abnormal):
        detail, hidden_msg = outcome.reason, outcome.hidden_reason
        trace.append(("abnormal", outcome.hidden_reason))
    else:
        try:
            detail, hidden_msg = evaluate_test(exercise, test, outcome, ref, trace)
        except Exception as exc:  # the data, not the grader: never a crash of this process
            detail, hidden_msg = f"{MALFORMED} ({type(exc).__name__})", "malformed output"
    passed = detail == ""
    return TestResult(
        name=test.name,
        passed=passed,
        score=float(test.points) if passed else 0.0,
        max_score=float(test.points),
        message="passed" if passed else (f"failed: {hidden_msg}" if test.hidden else detail),
        hidden=test.hidden,
        detail=detail or "passed",
        failed_at=tuple(trace),
    )


def failed_report(
    exercise: Exercise,
    reason: str,
    status: dict[str, Any],
    started: float,
    timings: dict[str, float],
    output: str = "",
) -> GradeReport:
    """The report for a submission that could not be graded at all (every test not run)."""
    timings["total_ms"] = round((time.monotonic() - started) * 1000, 2)
    tests = [
        TestResult(t.name, False, 0.0, float(t.points), "not run", t.hidden, reason)
        for t in exercise.tests
    ]
    return GradeReport(
        status="failed",
        score=0.0,
        max_score=exercise.max_score,
        tests=tests,
        feedback=f"The submission could not be graded: {reason}",
        sandbox=status,
        timings=timings,
        exercise_version=exercise.fingerprint,
        output=output,
    )
