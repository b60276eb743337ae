"""The trusted side of grading: run a submission's tests in the sandbox, score them, report.

The parts: `pool` (the zygote client and the slots/uids that run jobs), `protocol` (the job the
sandbox gets and the records it sends back), `feedback` (scoring and messages), `report` (types).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from hashlib import sha256
from typing import Any

from grader import sandbox, uids
from grader.cache import ResultCache
from grader.config import SANDBOX_ALLOW_UNSAFE, SANDBOX_HIDE
from grader.curves import lab_report
from grader.feedback import (
    Abnormal,
    abnormal,
    evaluate_test,
    failed_report,
    hidden_load_failure,
    load_failure,
    score_test,
)
from grader.misconceptions import Profile, build_profile, explain, feedback_line
from grader.pool import PROJECT_ROOT, SandboxPool, SandboxUnavailable
from grader.protocol import OnTest, Run, baseline_job, build_job
from grader.report import GradeReport, TestResult
from grader.spec import Exercise
from grader.uids import BASE_UID

__all__ = ["BASE_UID", "ExerciseError", "GradeReport", "Grader", "SandboxUnavailable", "TestResult"]

log = logging.getLogger("holdout.grader")
UNSAFE_ENV = SANDBOX_ALLOW_UNSAFE.env
REFERENCE_CACHE_SIZE = 256
REQUIRED_LAYERS = sandbox.REQUIRED_LAYERS
LAYERS = (
    "uid_separation",
    "no_supplementary_groups",
    "empty_env",
    "openblas_single_thread",
    "netns",
    "mountns",
    "pidns",
    "private_tmp",
    "rlimits",
    "no_new_privs",
    "seccomp",
    "cgroup",
    "wall_clock_kill",
)


class ExerciseError(RuntimeError):
    """The exercise itself is broken: its reference fails in the sandbox."""


class Grader:
    """Grades code answers in the sandbox; thread-safe: `slots` jobs at once, each as its own uid.

    With `allow_unsafe` (default: HOLDOUT_SANDBOX_ALLOW_UNSAFE=1) grading proceeds even when the
    uid switch or resource limits are unavailable, e.g. on a developer machine without root.
    Its uids come from the machine's allocator (grader/uids.py), held until `close()`, unless a
    `base_uid` is given (the caller then answers for no other process using those uids).
    """

    def __init__(
        self,
        slots: int = 2,
        base_uid: int | None = None,
        allow_unsafe: bool | None = None,
        hide: list[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """`cache_dir`: where results learned once per exercise version (references, mutant
        profiles, lab baselines) are kept for every grading process (grader/cache.py); without
        it, in this process's memory only."""
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.slots = slots
        self._uid_block: uids.UidBlock | None = None
        if base_uid is None:
            self._uid_block = uids.claim(uids.UIDS_PER_SLOT * slots)
            base_uid = self._uid_block.base
        self.base_uid = base_uid
        if allow_unsafe is None:
            allow_unsafe = SANDBOX_ALLOW_UNSAFE.read()
        self.allow_unsafe = allow_unsafe
        extra = SANDBOX_HIDE.read()
        # The private temp directories replace what they cover already (and hiding one, say a
        # service started in /tmp, would cover the job's own working directory).
        hidden = sorted(
            {*sandbox.default_hide(), str(PROJECT_ROOT), os.getcwd(), *extra, *(hide or [])}
            - {"/", *sandbox.PRIVATE_TMP}
        )
        self.cache = ResultCache(cache_dir) if cache_dir is not None else None
        if self.cache is not None:
            hidden = sorted({*hidden, str(self.cache.directory.resolve())})
        self.pool = SandboxPool(slots, base_uid, allow_unsafe, hidden)
        self.uids = self.pool.uids
        self._lock = threading.Lock()
        self._status: dict[str, Any] | None = None
        self._refs: OrderedDict[str, dict[int, list[dict[str, Any]]]] = OrderedDict()
        self._ref_locks: dict[str, threading.Lock] = {}
        self._profiles: OrderedDict[str, list[Profile]] = OrderedDict()
        self._baselines: OrderedDict[str, Any] = OrderedDict()

    # ---------------------------------------------------------------------------------------
    # public API

    def grade(
        self, exercise: Exercise, source: str | bytes, explain_misconceptions: bool = True
    ) -> GradeReport:
        """Grade `source`; when tests fail, the feedback names the misconception of every known
        mutant the submission behaves like (see grader/misconceptions.py)."""
        started = time.monotonic()
        status = self.sandbox_status()
        if not status["ok"]:
            raise SandboxUnavailable(
                "refusing to grade: the sandbox lacks "
                + ", ".join(status["missing"])
                + f" (set {UNSAFE_ENV}=1 to grade anyway on a trusted machine)"
            )
        timings: dict[str, float] = {}
        text, failure = decode_source(source)
        if failure:
            return failed_report(exercise, failure, status, started, timings)
        t = time.monotonic()
        version = exercise.fingerprint  # hashes the whole exercise: once per grading
        refs = self.reference_outputs(exercise, version)
        timings["reference_ms"] = round((time.monotonic() - t) * 1000, 2)
        # Each test is scored as soon as its result arrives, while the sandbox runs the next ones.
        early: dict[int, tuple[list[dict[str, Any]], TestResult]] = {}

        def on_test(i: int, steps: list[dict[str, Any]]) -> None:
            if 0 <= i < len(exercise.tests):
                with contextlib.suppress(Exception):  # scored again below, where errors surface
                    early[i] = (
                        steps,
                        score_test(exercise, exercise.tests[i], steps, refs.get(i)),
                    )

        t = time.monotonic()
        outcomes, fatal, output, runs = self._run_tests(exercise, text, on_test)
        timings["run_ms"] = round((time.monotonic() - t) * 1000, 2)
        timings["runs"] = runs
        if fatal:
            return failed_report(exercise, fatal, status, started, timings, output)
        results = []
        for i, test in enumerate(exercise.tests):
            hit = early.get(i)
            if hit is not None and hit[0] is outcomes[i]:
                results.append(hit[1])
            else:
                results.append(score_test(exercise, test, outcomes[i], refs.get(i)))
        score = float(sum(r.score for r in results))
        passed = sum(r.passed for r in results)
        feedback = (
            f"{passed} of {len(results)} tests passed; score {score:g} of {exercise.max_score:g}."
        )
        if passed < len(results) and explain_misconceptions:
            t = time.monotonic()
            feedback += self._misconception_hint(exercise, version, outcomes, results)
            timings["misconception_ms"] = round((time.monotonic() - t) * 1000, 2)
        lab = None
        if exercise.lab is not None:
            t = time.monotonic()
            baseline = self.lab_baseline(exercise, version)
            lab = lab_report(exercise.lab, exercise.tests, outcomes, refs, baseline)
            timings["lab_ms"] = round((time.monotonic() - t) * 1000, 2)
        timings["total_ms"] = round((time.monotonic() - started) * 1000, 2)
        return GradeReport(
            status="graded",
            score=score,
            max_score=exercise.max_score,
            tests=results,
            feedback=feedback,
            sandbox=status,
            timings=timings,
            exercise_version=version,
            output=output,
            lab=lab,
        )

    def _misconception_hint(
        self,
        exercise: Exercise,
        version: str,
        outcomes: dict[int, Any],
        results: list[TestResult],
    ) -> str:
        """The feedback's "Possible misconception" sentence ("" for none). Only a hint: the grade
        is complete without it, so whatever goes wrong here (the submission's outputs are any
        decoded data, the mutants' runs are sandboxed runs) drops the hint, logged, and never the
        grade (which the service would otherwise run again)."""
        try:
            profiles = self.mutant_profiles(exercise, version)
            hints = explain(profiles, exercise, outcomes, results)
        except Exception:
            log.exception("the misconception step failed for %s; the hint is left out", version)
            return ""
        return " " + feedback_line(hints) if hints else ""

    def lab_baseline(self, exercise: Exercise, fingerprint: str | None = None) -> Any:
        """The output of the lab's training run without any piece (decoded, unchecked: the report
        checks it like any run), run in the sandbox once per exercise version and cached."""

        def run() -> Any:
            job = baseline_job(exercise, exercise.reference)
            steps = self.pool.run(exercise.effective_limits, job).tests.get(0) or [{}]
            return steps[0].get("out")

        return self._cached(
            self._baselines, fingerprint or exercise.fingerprint, run, "baseline", _same, _same
        )

    def reference_outputs(
        self, exercise: Exercise, fingerprint: str | None = None
    ) -> dict[int, list[dict[str, Any]]]:
        """The reference's decoded step outcomes per test, cached per exercise fingerprint
        (`fingerprint`, if given, must be `exercise.fingerprint`)."""

        def run() -> dict[int, list[dict[str, Any]]]:
            outcomes, fatal, _, _ = self._run_tests(exercise, exercise.reference, split=False)
            if fatal:
                raise ExerciseError(f"the reference implementation cannot be graded: {fatal}")
            refs: dict[int, list[dict[str, Any]]] = {}
            for i, outcome in outcomes.items():
                test = exercise.tests[i]
                try:
                    problem = (
                        outcome.reason
                        if isinstance(outcome, Abnormal)
                        else evaluate_test(exercise, test, outcome, outcome)[0]
                    )
                except Exception as exc:  # the reference's outputs are sandboxed data too
                    problem = f"its output could not be checked ({type(exc).__name__})"
                if problem:
                    raise ExerciseError(f"the reference fails test {test.name!r}: {problem}")
                refs[i] = outcome
            return refs

        result: dict[int, list[dict[str, Any]]] = self._cached(
            self._refs,
            fingerprint or exercise.fingerprint,
            run,
            "reference",
            _dump_refs,
            _load_refs,
        )
        return result

    def mutant_profiles(self, exercise: Exercise, fingerprint: str | None = None) -> list[Profile]:
        """What each mutant with a `# misconception:` header fails and returns on the visible
        tests, run once per exercise version and mutant sources (like the reference)."""
        explained = sorted(n for n in exercise.mutants if exercise.mutant_misconception(n))
        if not explained:
            return []
        key = (
            (fingerprint or exercise.fingerprint)
            + "|"
            + sha256(
                "\0".join(f"{n}\0{exercise.mutants[n]}" for n in explained).encode()
            ).hexdigest()
        )

        def run() -> list[Profile]:
            refs = self.reference_outputs(exercise, fingerprint)

            def profile(name: str) -> Profile | None:
                outcomes, fatal, _, _ = self._run_tests(exercise, exercise.mutants[name])
                if fatal:
                    return None  # a mutant that cannot load matches nothing a test could tell
                results = [
                    score_test(exercise, test, outcomes[i], refs.get(i))
                    for i, test in enumerate(exercise.tests)
                ]
                return build_profile(exercise, name, outcomes, results)

            # One job per mutant, as many at once as there are slots.
            with ThreadPoolExecutor(self.slots, thread_name_prefix="holdout-mutants") as ex:
                return [p for p in ex.map(profile, explained) if p is not None]

        profiles: list[Profile] = self._cached(
            self._profiles, key, run, "profiles", _dump_profiles, _load_profiles
        )
        return profiles

    def prepare(self, exercise: Exercise) -> None:
        """Learn now what grading `exercise` needs once per version (its reference's outputs, its
        mutants' profiles, a lab's baseline), e.g. before an exam rather than during it."""
        version = exercise.fingerprint
        self.reference_outputs(exercise, version)
        self.mutant_profiles(exercise, version)
        if exercise.lab is not None:
            self.lab_baseline(exercise, version)

    def _cached(
        self,
        store: OrderedDict[str, Any],
        key: str,
        compute: Callable[[], Any],
        kind: str,
        dump: Callable[[Any], Any],
        load: Callable[[Any], Any],
    ) -> Any:
        """`compute()` once per key: one thread computes while the others wait for it; kept in
        `store`, the least recently used first out beyond REFERENCE_CACHE_SIZE, and in the
        result cache as `kind` (`dump` makes it what the cache stores, `load` undoes it). An
        exception is not cached."""
        lock_key = f"{id(store)}|{key}"
        with self._lock:
            lock = self._ref_locks.setdefault(lock_key, threading.Lock())
        with lock:
            with self._lock:
                if key in store:
                    store.move_to_end(key)
                    return store[key]
            if self.cache is None:
                value = compute()
            else:
                value = self._stored(kind, key, compute, dump, load)
            with self._lock:
                store[key] = value
                while len(store) > REFERENCE_CACHE_SIZE:
                    old, _ = store.popitem(last=False)
                    self._ref_locks.pop(f"{id(store)}|{old}", None)
            return value

    def _stored(
        self,
        kind: str,
        key: str,
        compute: Callable[[], Any],
        dump: Callable[[Any], Any],
        load: Callable[[Any], Any],
    ) -> Any:
        """From the result cache, or computed by one process while the others wait, then stored."""
        assert self.cache is not None
        with self.cache.computing(kind, key):
            data = self.cache.get(kind, key)
            if data is not None:
                try:
                    return load(data)
                except Exception:  # a file of another shape: computed again and replaced
                    log.warning("ignoring a malformed %s in the result cache", kind)
            value = compute()
            try:
                self.cache.put(kind, key, dump(value))
            except OSError as exc:  # a full disk costs the next process a run, not this grade
                log.warning("could not store a %s in the result cache: %s", kind, exc)
            return value

    def sandbox_status(self) -> dict[str, Any]:
        """Which isolation layers are active, observed from inside a probe job (cached)."""
        with self._lock:
            if self._status is not None:
                return self._status
        status = self._probe()
        with self._lock:
            self._status = status
            self.pool.needs_fallback_dir = status["mountns"] is not True
        return status

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every job has been reaped (no sandbox process left); False on timeout."""
        return self.pool.wait_idle(timeout)

    def close(self) -> None:
        self.pool.close()
        if self._uid_block is not None:
            # Another process may take these uids only once none of them runs anything.
            self._uid_block.close()
            self._uid_block = None

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------
    # sandboxed runs

    def _probe(self) -> dict[str, Any]:
        from grader.spec import DEFAULT_LIMITS

        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        must_hide = [str(PROJECT_ROOT / "grader" / "engine.py")]
        extra = {"probe_port": listener.getsockname()[1], "must_hide": must_hide, "proc": True}
        try:
            run = self.pool.run(dict(DEFAULT_LIMITS), {"mode": "probe"}, extra, need_status=True)
            hang = self.pool.run(
                {**DEFAULT_LIMITS, "wall_seconds": 0.5}, {"mode": "probe", "hang": True}, extra
            )
        finally:
            listener.close()
        layers = (run.setup or {}).get("layers", {})
        seen = run.probe or {}
        status: dict[str, Any] = {name: bool(seen.get(name)) for name in LAYERS}
        status["wall_clock_kill"] = bool(hang.status.get("timed_out")) and hang.wall < 5
        status["pidns"] = status["pidns"] and run.status.get("pidns") is True
        for name in (
            "uid_separation",
            "rlimits",
            "netns",
            "mountns",
            "no_new_privs",
            "seccomp",
            "cgroup",
        ):
            if layers.get(name) is not True:
                status[name] = False
        status["uids"] = list(self.uids)
        status["errors"] = {k: v for k, v in layers.items() if v is not True}
        if run.protocol_error or run.probe is None:
            status["errors"]["probe"] = run.protocol_error or abnormal(run, DEFAULT_LIMITS).reason
        status["missing"] = [k for k in REQUIRED_LAYERS if not status[k]]
        status["unsafe_allowed"] = self.allow_unsafe
        status["ok"] = not status["missing"] or self.allow_unsafe
        status["zygote"] = self.pool.zygote_info()
        return status

    # ---------------------------------------------------------------------------------------
    # running tests

    def _run_tests(
        self, exercise: Exercise, source: str, on_test: OnTest | None = None, split: bool = True
    ) -> tuple[dict[int, Any], str | None, str, int]:
        """Per-test outcomes (step results or Abnormal), a fatal reason, the output, runs used.

        With `split`, the visible tests run in one sandboxed run and the hidden tests in another,
        after it: no message or output a student sees comes from a process that held hidden inputs
        (and the visible run is over before the hidden one starts, so it can learn nothing from it).
        Only the visible run's load failure is fatal and only its output is kept. Nothing is run
        again: a run that hits the wall clock or the CPU limit ends the grading."""
        limits = exercise.effective_limits
        tests = exercise.tests
        if split:
            groups = [[i for i, t in enumerate(tests) if not t.hidden]]
            groups += [hidden] if (hidden := [i for i, t in enumerate(tests) if t.hidden]) else []
        else:
            groups = [list(range(len(tests)))]
        outcomes: dict[int, Any] = {}
        output = b""
        runs = 0
        for k, indices in enumerate(groups):
            holds_hidden = split and k > 0
            run = self.pool.run(limits, build_job(exercise, source, indices), on_test=on_test)
            runs += 1
            if not holds_hidden:
                output += run.output
            if run.setup is None:
                raise SandboxUnavailable(
                    f"the sandbox did not start: {abnormal(run, limits).reason}"
                )
            fatal, stop = _group_outcomes(exercise, run, indices, outcomes)
            if fatal and not holds_hidden:
                return outcomes, fatal, _text(output), runs
            if stop is not None:
                for i in range(len(tests)):
                    outcomes.setdefault(i, stop)
                break
        return outcomes, None, _text(output), runs


# ---------------------------------------------------------------------------------------------
# helpers


def _same(value: Any) -> Any:
    return value


def _dump_refs(refs: dict[int, list[dict[str, Any]]]) -> list[Any]:
    return [[i, steps] for i, steps in refs.items()]


def _load_refs(data: list[Any]) -> dict[int, list[dict[str, Any]]]:
    refs = {}
    for i, steps in data:
        if type(i) is not int or not isinstance(steps, list):
            raise ValueError("malformed reference outputs")
        refs[i] = steps
    return refs


def _dump_profiles(profiles: list[Profile]) -> list[Any]:
    return [
        [p.mutant, p.explanation, p.failing, [[i, j, step] for (i, j), step in p.visible.items()]]
        for p in profiles
    ]


def _load_profiles(data: list[Any]) -> list[Profile]:
    profiles = []
    for mutant, explanation, failing, visible in data:
        if not (isinstance(mutant, str) and isinstance(explanation, str)):
            raise ValueError("malformed profile")
        if not isinstance(failing, dict) or not all(isinstance(v, tuple) for v in failing.values()):
            raise ValueError("malformed profile")
        steps = {(i, j): step for i, j, step in visible if type(i) is type(j) is int}
        profiles.append(Profile(mutant, explanation, failing, steps))
    return profiles


def decode_source(source: str | bytes) -> tuple[str, str | None]:
    """The source as text, or why it cannot be Python source."""
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            return "", f"the file is not valid UTF-8 (byte {exc.start})"
    if "\x00" in source:
        return "", "the file contains NUL bytes; it is not Python source"
    return source, None


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


# A run that ended this way ends the grading: a submission that hits a limit once is graded so.
STOPPING = ("timed out", "CPU time limit")


def _group_outcomes(
    exercise: Exercise, run: Run, indices: list[int], outcomes: dict[int, Any]
) -> tuple[str | None, Abnormal | None]:
    """Put one run's test outcomes into `outcomes`: what the run reported, the test it ended in
    (and the ones it never reached) as Abnormal. Returns the reason the submission did not load
    (None when it did) and, when the run hit a limit, what the tests not yet run get."""
    limits = exercise.effective_limits
    cause = abnormal(run, limits)
    if run.load is None or not run.load["ok"]:
        if run.load is None:
            why = f"{run.protocol_error or cause.reason} while loading the submission"
            hidden_why = cause.hidden_reason
        else:
            why, hidden_why = load_failure(exercise, run.load), hidden_load_failure(run.load)
        for i in indices:
            outcomes[i] = Abnormal(why, hidden_why)
        return why, cause if run.load is None and cause.hidden_reason in STOPPING else None
    outcomes.update(run.tests)  # the reader took only tests this run holds
    missing = [i for i in indices if i not in run.tests]
    if (run.done and not run.protocol_error and not missing) or not indices:
        return None, None  # complete (or a run of no tests: it only tells whether code loads)
    # The run ended early (or broke the protocol): blame the test it was in.
    blamed = next((i for i in run.began if i not in run.tests), (missing or indices)[0])
    outcomes[blamed] = cause
    later = Abnormal(
        f"not run: the run ended in an earlier test ({cause.hidden_reason})", cause.hidden_reason
    )
    for i in missing:
        outcomes.setdefault(i, later)
    if cause.hidden_reason in STOPPING:
        return None, Abnormal(
            f"not run: an earlier run ended ({cause.hidden_reason})", later.hidden_reason
        )
    return None, None
