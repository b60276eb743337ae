"""The trusted side of grading: drive the zygote, read the data channel, apply checks, report."""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import functools
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import sandbox
from grader.checks import StepContext, run_check, short
from grader.spec import Exercise, TestSpec
from grader.values import ArrayCache, DecodeError, apply_mutation, decode, materialize

PROJECT_ROOT = Path(__file__).resolve().parent.parent
UNSAFE_ENV = "HOLDOUT_SANDBOX_ALLOW_UNSAFE"
HIDE_ENV = "HOLDOUT_SANDBOX_HIDE"
BASE_UID = 61000
MAX_RUNS = 3
REFERENCE_CACHE_SIZE = 256
# The tests' input arrays as the parent rebuilds them for every grading, built once per content.
_ARRAYS = ArrayCache()
RESULT_PIPE_BYTES = 1 << 20
ZYGOTE_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
}
REQUIRED_LAYERS = ("uid_separation", "rlimits")
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
    "wall_clock_kill",
)
BUILTIN_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot isolate submissions here, so grading is refused.

    Set HOLDOUT_SANDBOX_ALLOW_UNSAFE=1 (or allow_unsafe=True) to grade anyway on a trusted machine.
    """


class ExerciseError(RuntimeError):
    """The exercise itself is broken: its reference fails in the sandbox."""


class _ZygoteDied(RuntimeError):
    pass


@dataclass
class TestResult:
    name: str
    passed: bool
    score: float
    max_score: float
    message: str
    hidden: bool
    # The full feedback, also for hidden tests: for exercise checks and logs, never for students.
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "score": self.score,
            "max_score": self.max_score,
            "message": self.message,
            "hidden": self.hidden,
        }


@dataclass
class GradeReport:
    status: str  # "graded" | "failed"
    score: float
    max_score: float
    tests: list[TestResult]
    feedback: str
    sandbox: dict[str, Any]
    timings: dict[str, float]
    exercise_version: str
    # The submission's stdout/stderr (first output_kib): may contain hidden inputs it printed,
    # so it is not part of to_dict().
    output: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "score": self.score,
            "max_score": self.max_score,
            "tests": [t.to_dict() for t in self.tests],
            "feedback": self.feedback,
            "sandbox": self.sandbox,
            "timings": self.timings,
            "exercise_version": self.exercise_version,
        }


@dataclass
class _Abnormal:
    """A test that produced no result: the process timed out, crashed or exited."""

    reason: str
    hidden_reason: str


@dataclass
class _Run:
    setup: dict[str, Any] | None = None
    load: dict[str, Any] | None = None
    loading: bool = False
    tests: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    began: list[int] = field(default_factory=list)
    probe: dict[str, Any] | None = None
    done: bool = False
    overflow: bool = False
    protocol_error: str | None = None
    status: dict[str, Any] = field(default_factory=dict)
    output: bytes = b""
    wall: float = 0.0


# Called with a test's index and decoded step results as soon as its record arrives.
OnTest = Callable[[int, list[dict[str, Any]]], None]


class _Zygote:
    """One zygote process and the thread that reads its replies."""

    def __init__(self, hide: list[str], standbys: int = 1) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The zygote needs only the sandbox side (zygote, _child, sandbox, values): the package is
        # registered bare, so its __init__ (the engine, the spec, yaml...) is never imported there.
        # Less memory in the zygote is less to copy on every fork and to tear down at every exit.
        package = str(PROJECT_ROOT / "grader")
        boot = (
            "import sys, types; "
            "pkg = types.ModuleType('grader'); "
            f"pkg.__path__ = [{package!r}]; "
            "sys.modules['grader'] = pkg; "
            "from grader.zygote import main; main(int(sys.argv[1]), sys.argv[2])"
        )
        from grader.spec import DEFAULT_LIMITS

        tmp_kib = int(DEFAULT_LIMITS["file_mib"] * 1024)
        options = json.dumps({"hide": hide, "standbys": standbys, "tmp_kib": tmp_kib})
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", boot, str(child.fileno()), options],
            pass_fds=[child.fileno()],
            env=ZYGOTE_ENV,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        child.close()
        self.sock = parent
        self.sock.settimeout(120)
        try:
            hello = json.loads(self.sock.recv(65536) or b"{}")
        except (OSError, ValueError) as exc:
            self.proc.kill()
            self.proc.wait()
            raise SandboxUnavailable(f"the grading zygote did not start: {exc}") from exc
        if not hello.get("ready"):
            self.proc.kill()
            self.proc.wait()
            raise SandboxUnavailable("the grading zygote did not start")
        self.info = {"pid": hello["pid"], "euid": hello["euid"]}
        self.sock.settimeout(None)
        self.alive = True
        self._lock = threading.Lock()
        self._next = 0
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._reader = threading.Thread(target=self._read, name="holdout-zygote", daemon=True)
        self._reader.start()

    def submit(self, cfg: dict[str, Any], fds: list[int]) -> Future[dict[str, Any]]:
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            if not self.alive:
                raise _ZygoteDied("the zygote is gone")
            self._next += 1
            job = self._next
            self._pending[job] = future
            try:
                message = json.dumps({"op": "run", "job": job, "cfg": cfg}).encode()
                socket.send_fds(self.sock, [message], fds)
            except OSError as exc:
                # The reader thread may not have seen the EOF yet: without this, a retry would be
                # handed the same dead zygote.
                self.alive = False
                self._pending.pop(job, None)
                raise _ZygoteDied(str(exc)) from exc
        return future

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            try:
                reply = json.loads(data)
            except ValueError:
                continue
            with self._lock:
                future = self._pending.pop(reply.get("job"), None)
            if future is not None:
                future.set_result(reply)
        with self._lock:
            self.alive = False
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(_ZygoteDied("the zygote died"))
        self.proc.wait()

    def close(self) -> None:
        with self._lock:
            self.alive = False
        with contextlib.suppress(OSError):
            self.sock.send(json.dumps({"op": "exit"}).encode())
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()


class Grader:
    """Grades code answers in the sandbox; thread-safe: `slots` jobs at once, each as its own uid.

    With `allow_unsafe` (default: HOLDOUT_SANDBOX_ALLOW_UNSAFE=1) grading proceeds even when the
    uid switch or resource limits are unavailable, e.g. on a developer machine without root.
    """

    def __init__(
        self,
        slots: int = 2,
        base_uid: int = BASE_UID,
        allow_unsafe: bool | None = None,
        hide: list[str] | None = None,
    ) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.slots = slots
        self.base_uid = base_uid
        if allow_unsafe is None:
            allow_unsafe = os.environ.get(UNSAFE_ENV, "") == "1"
        self.allow_unsafe = allow_unsafe
        extra = [p for p in os.environ.get(HIDE_ENV, "").split(":") if p]
        self._hide = sorted(
            {*sandbox.DEFAULT_HIDE, str(PROJECT_ROOT), os.getcwd(), *extra, *(hide or [])} - {"/"}
        )
        # Twice as many uids as slots: a finished job's namespaces are torn down (a few ms) while
        # the next job already runs, yet no two live jobs ever share a uid.
        self.uids = [base_uid + i for i in range(2 * slots)]
        self._free_uids = list(self.uids)
        self._running = threading.Semaphore(slots)
        self._slot_cond = threading.Condition()
        self._lock = threading.Lock()
        self._zygote: _Zygote | None = None
        self._status: dict[str, Any] | None = None
        self._refs: OrderedDict[str, dict[int, list[dict[str, Any]]]] = OrderedDict()
        self._ref_locks: dict[str, threading.Lock] = {}
        self._closed = False
        # Benchmarks only: a new zygote (a cold interpreter) for every run instead of the warm one.
        self.cold_start_per_job = False

    # ---------------------------------------------------------------------------------------
    # public API

    def grade(self, exercise: Exercise, source: str | bytes) -> GradeReport:
        started = time.monotonic()
        status = self.sandbox_status()
        if not status["ok"]:
            raise SandboxUnavailable(
                "refusing to grade: the sandbox lacks "
                + ", ".join(status["missing"])
                + f" (set {UNSAFE_ENV}=1 to grade anyway on a trusted machine)"
            )
        timings: dict[str, float] = {}
        text, failure = _decode_source(source)
        if failure:
            return self._failed(exercise, failure, status, started, timings)
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
                        self._score_test(exercise, exercise.tests[i], steps, refs.get(i)),
                    )

        t = time.monotonic()
        outcomes, fatal, output, runs = self._run_tests(exercise, text, on_test)
        timings["run_ms"] = round((time.monotonic() - t) * 1000, 2)
        timings["runs"] = runs
        if fatal:
            return self._failed(exercise, fatal, status, started, timings, output)
        results = []
        for i, test in enumerate(exercise.tests):
            hit = early.get(i)
            if hit is not None and hit[0] is outcomes[i]:
                results.append(hit[1])
            else:
                results.append(self._score_test(exercise, test, outcomes[i], refs.get(i)))
        score = float(sum(r.score for r in results))
        passed = sum(r.passed for r in results)
        timings["total_ms"] = round((time.monotonic() - started) * 1000, 2)
        return GradeReport(
            status="graded",
            score=score,
            max_score=exercise.max_score,
            tests=results,
            feedback=f"{passed} of {len(results)} tests passed; "
            f"score {score:g} of {exercise.max_score:g}.",
            sandbox=status,
            timings=timings,
            exercise_version=version,
            output=output,
        )

    def reference_outputs(
        self, exercise: Exercise, fingerprint: str | None = None
    ) -> dict[int, list[dict[str, Any]]]:
        """The reference's decoded step outcomes per test, cached per exercise fingerprint
        (`fingerprint`, if given, must be `exercise.fingerprint`)."""
        key = fingerprint or exercise.fingerprint
        with self._lock:
            lock = self._ref_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._refs:
                    self._refs.move_to_end(key)
                    return self._refs[key]
            outcomes, fatal, _, _ = self._run_tests(exercise, exercise.reference)
            if fatal:
                raise ExerciseError(f"the reference implementation cannot be graded: {fatal}")
            refs: dict[int, list[dict[str, Any]]] = {}
            for i, outcome in outcomes.items():
                test = exercise.tests[i]
                problem = (
                    outcome.reason
                    if isinstance(outcome, _Abnormal)
                    else _evaluate(exercise, test, outcome, outcome)[0]
                )
                if problem:
                    raise ExerciseError(f"the reference fails test {test.name!r}: {problem}")
                refs[i] = outcome
            with self._lock:
                self._refs[key] = refs
                while len(self._refs) > REFERENCE_CACHE_SIZE:
                    old, _ = self._refs.popitem(last=False)
                    self._ref_locks.pop(old, None)
            return refs

    def sandbox_status(self) -> dict[str, Any]:
        """Which isolation layers are active, observed from inside a probe job (cached)."""
        with self._lock:
            if self._status is not None:
                return self._status
        status = self._probe()
        with self._lock:
            self._status = status
        return status

    def close(self) -> None:
        self.wait_idle()
        with self._lock:
            self._closed = True
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------
    # sandboxed runs

    def _get_zygote(self) -> _Zygote:
        with self._lock:
            if self._closed:
                raise RuntimeError("the grader is closed")
            if self._zygote is None or not self._zygote.alive:
                if self._zygote is not None:
                    self._zygote.close()
                # One standby more than slots: a job never waits for one to be prepared.
                self._zygote = _Zygote(self._hide, self.slots + 1)
            return self._zygote

    def _cfg(self, uid: int, limits: dict[str, float]) -> dict[str, Any]:
        return {
            "uid": uid,
            "gid": uid,
            "limits": limits,
            "hide": self._hide,
            "allow_unsafe": self.allow_unsafe,
        }

    def _run(
        self,
        limits: dict[str, float],
        job: dict[str, Any],
        extra: dict[str, Any] | None = None,
        need_status: bool = False,
        on_test: OnTest | None = None,
    ) -> _Run:
        self._running.acquire()
        with self._slot_cond:
            while not self._free_uids:
                self._slot_cond.wait()
            uid = self._free_uids.pop(0)
        fallback = None
        cold: _Zygote | None = None
        running = True

        def finish_running() -> None:
            nonlocal running
            if running:
                running = False
                self._running.release()

        def release(_: object = None) -> None:
            if cold is not None:
                cold.close()
            if fallback:
                shutil.rmtree(fallback, ignore_errors=True)
            with self._slot_cond:
                self._free_uids.append(uid)
                self._slot_cond.notify_all()

        try:
            cfg = {**self._cfg(uid, limits), **(extra or {})}
            status = self._status or {}
            if status and status.get("mountns") is not True:
                # Without a private /tmp the job works in a directory the parent owns and removes.
                fallback = tempfile.mkdtemp(prefix="holdout-job-")
                os.chmod(fallback, 0o777)
                cfg["fallback_dir"] = fallback
            for attempt in range(2):
                try:
                    if self.cold_start_per_job:
                        if cold is not None:
                            cold.close()
                        cold = _Zygote(self._hide)
                    run, future = self._run_once(cfg, job, cold, on_test)
                except _ZygoteDied:
                    if attempt:
                        raise SandboxUnavailable("the grading zygote keeps dying") from None
                    continue
                if run.done and not run.protocol_error and not run.overflow and not need_status:
                    # The results are complete. Tearing down the job's namespaces takes a few more
                    # milliseconds; the slot (and its uid) is reused only once the job is reaped.
                    finish_running()
                    future.add_done_callback(release)
                    return run
                try:
                    reply = future.result(timeout=limits["wall_seconds"] + 15)
                except _ZygoteDied:
                    if run.setup is None and not attempt:
                        continue  # it died before the job started: once more, with a new zygote
                    reply = {"error": "the zygote died during the job"}
                except TimeoutError:
                    reply = {"error": "no status from the zygote"}
                run.status = {"error": reply["error"]} if "error" in reply else reply["status"]
                finish_running()
                release()
                return run
            raise AssertionError("unreachable")
        except BaseException:
            finish_running()
            release()
            raise

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every job has been reaped (no sandbox process left); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._slot_cond:
            while len(self._free_uids) < len(self.uids):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._slot_cond.wait(remaining)
        return True

    def _run_once(
        self,
        cfg: dict[str, Any],
        job: dict[str, Any],
        zygote: _Zygote | None = None,
        on_test: OnTest | None = None,
    ) -> tuple[_Run, Future[dict[str, Any]]]:
        limits = cfg["limits"]
        zygote = zygote or self._get_zygote()
        job_fd = os.memfd_create("holdout-job", os.MFD_CLOEXEC)
        result_r, result_w = os.pipe()
        output_r, output_w = os.pipe()
        with contextlib.suppress(OSError):
            # Room for a typical job's results, so the job rarely waits for this process to read.
            fcntl.fcntl(result_w, fcntl.F_SETPIPE_SZ, RESULT_PIPE_BYTES)
        try:
            os.write(job_fd, json.dumps(job).encode())
            future = zygote.submit(cfg, [job_fd, result_w, output_w])
        finally:
            os.close(job_fd)
            os.close(result_w)
            os.close(output_w)
        run = _Run()
        started = time.monotonic()
        try:
            self._read_channels(run, result_r, output_r, limits, _RecordReader(run, on_test))
        finally:
            os.close(result_r)
            os.close(output_r)
        run.wall = time.monotonic() - started
        return run, future

    def _read_channels(
        self,
        run: _Run,
        result_r: int,
        output_r: int,
        limits: dict[str, float],
        reader: _RecordReader,
    ) -> None:
        cap = int(limits["result_mib"] * 1024 * 1024)
        keep = int(limits["output_kib"] * 1024)
        deadline = time.monotonic() + limits["wall_seconds"] + 10
        size = 0
        output = bytearray()
        sel = selectors.DefaultSelector()
        sel.register(result_r, selectors.EVENT_READ, "result")
        sel.register(output_r, selectors.EVENT_READ, "output")
        open_fds = 2
        try:
            while open_fds:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                for key, _ in sel.select(remaining):
                    data = os.read(key.fd, RESULT_PIPE_BYTES)
                    if not data:
                        sel.unregister(key.fd)
                        open_fds -= 1
                    elif key.data == "output":
                        # Drained to the end so a chatty job never blocks; only the head is kept.
                        if len(output) < keep:
                            output += data[: keep - len(output)]
                    elif size + len(data) > cap:
                        run.overflow = True
                        sel.unregister(key.fd)
                        open_fds -= 1
                    else:
                        size += len(data)
                        reader.feed(data)
        finally:
            sel.close()
            reader.close()
        run.output = bytes(output)

    def _probe(self) -> dict[str, Any]:
        from grader.spec import DEFAULT_LIMITS

        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        must_hide = [str(PROJECT_ROOT / "grader" / "engine.py")]
        extra = {"probe_port": listener.getsockname()[1], "must_hide": must_hide}
        try:
            run = self._run(dict(DEFAULT_LIMITS), {"mode": "probe"}, extra, need_status=True)
            hang = self._run(
                {**DEFAULT_LIMITS, "wall_seconds": 0.5}, {"mode": "probe", "hang": True}, extra
            )
        finally:
            listener.close()
        layers = (run.setup or {}).get("layers", {})
        seen = run.probe or {}
        status: dict[str, Any] = {name: bool(seen.get(name)) for name in LAYERS}
        status["wall_clock_kill"] = bool(hang.status.get("timed_out")) and hang.wall < 5
        status["pidns"] = status["pidns"] and run.status.get("pidns") is True
        for name in ("uid_separation", "rlimits", "netns", "mountns", "no_new_privs"):
            if layers.get(name) is not True:
                status[name] = False
        status["uids"] = list(self.uids)
        status["errors"] = {k: v for k, v in layers.items() if v is not True}
        if run.protocol_error or run.probe is None:
            status["errors"]["probe"] = run.protocol_error or _abnormal(run, DEFAULT_LIMITS).reason
        status["missing"] = [k for k in REQUIRED_LAYERS if not status[k]]
        status["unsafe_allowed"] = self.allow_unsafe
        status["ok"] = not status["missing"] or self.allow_unsafe
        with self._lock:
            status["zygote"] = dict(self._zygote.info) if self._zygote else {}
        return status

    # ---------------------------------------------------------------------------------------
    # running tests

    def _run_tests(
        self, exercise: Exercise, source: str, on_test: OnTest | None = None
    ) -> tuple[dict[int, Any], str | None, str, int]:
        """Per-test outcomes (step results or _Abnormal), a fatal reason, the output, runs used."""
        limits = exercise.effective_limits
        outcomes: dict[int, Any] = {}
        start, runs = 0, 0
        output = b""
        n = len(exercise.tests)
        while start < n and runs < MAX_RUNS:
            job = {
                "mode": "run",
                "source": source,
                "entry": {"name": exercise.entry.name, "kind": exercise.entry.kind},
                "tests": [_child_test(i, exercise.tests[i]) for i in range(start, n)],
            }
            run = self._run(limits, job, on_test=on_test)
            runs += 1
            output += run.output
            if run.setup is None:
                raise SandboxUnavailable(
                    f"the sandbox did not start: {_abnormal(run, limits).reason}"
                )
            if run.load is None:
                if start == 0 or not run.loading:
                    why = run.protocol_error or _abnormal(run, limits).reason
                    return outcomes, f"{why} while loading the submission", _text(output), runs
                outcomes[start] = _abnormal(run, limits)
                start += 1
                continue
            if not run.load.get("ok"):
                return outcomes, _load_failure(exercise, run.load), _text(output), runs
            outcomes.update({i: steps for i, steps in run.tests.items() if i >= start})
            if run.done and not run.protocol_error:
                break
            pending = [i for i in run.began if i not in outcomes] or [start]
            blamed = pending[0]
            outcomes[blamed] = _abnormal(run, limits)
            start = blamed + 1
        for i in range(n):
            if i not in outcomes:
                outcomes[i] = _Abnormal(
                    "not run: the submission timed out or crashed in earlier tests",
                    "not run",
                )
        return outcomes, None, _text(output), runs

    def _score_test(
        self, exercise: Exercise, test: TestSpec, outcome: Any, ref: list[dict[str, Any]] | None
    ) -> TestResult:
        if isinstance(outcome, _Abnormal):
            detail, hidden_msg = outcome.reason, outcome.hidden_reason
        else:
            detail, hidden_msg = _evaluate(exercise, test, outcome, ref)
        passed = detail == ""
        return TestResult(
            name=test.name,
            passed=passed,
            score=float(test.points) if passed else 0.0,
            max_score=float(test.points),
            message="passed" if passed else (f"failed: {hidden_msg}" if test.hidden else detail),
            hidden=test.hidden,
            detail=detail or "passed",
        )

    def _failed(
        self,
        exercise: Exercise,
        reason: str,
        status: dict[str, Any],
        started: float,
        timings: dict[str, float],
        output: str = "",
    ) -> GradeReport:
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


# ---------------------------------------------------------------------------------------------
# helpers


def _decode_source(source: str | bytes) -> tuple[str, str | None]:
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


def _child_test(index: int, test: TestSpec) -> dict[str, Any]:
    """What the sandbox needs to run a test: inputs and actions, never the checks' parameters."""
    steps = []
    for step in test.steps:
        action = next(a for a in ("call", "new", "method", "get", "mutate") if a in step)
        names = {c["check"] for c in step.get("expect", [])}
        steps.append(
            {
                "action": action,
                "body": step[action],
                "repeat": step.get("repeat", 1),
                "raises": "raises" in names,
                "snapshot": "inputs_unchanged" in names,
                "memory": "new_object" in names,
            }
        )
    return {"index": index, "let": test.let, "steps": steps}


GARBAGE = "the submission wrote garbage into the result channel"
NPY_MIN = 64
TAMPERED = "the submission tampered with the result channel"


class _RecordReader:
    """Parses the result channel while it arrives: records are JSON objects on one line each, then
    the blobs whose sizes their "b" key lists. The first record must be the harness's `setup`;
    the first one that breaks the protocol ends the parsing (`run.protocol_error`).
    `on_test(i, steps)` sees each decoded test as soon as its record is complete."""

    def __init__(self, run: _Run, on_test: OnTest | None = None) -> None:
        self.run = run
        self.on_test = on_test
        self.buf = bytearray()
        self.pos = 0  # buf[:pos] is parsed
        self.scanned = 0  # no newline in buf[pos:scanned]
        self.pending: tuple[dict[str, Any], list[int]] | None = None  # a record awaiting blobs
        self.count = 0
        self.begun: set[int] = set()
        self.stopped = False

    def feed(self, data: bytes) -> None:
        if self.stopped:
            return
        self.buf += data
        try:
            while not self.stopped and self._next():
                pass
        except (ValueError, RecursionError):
            self._fail(GARBAGE)
        # Drop what was parsed once per read, not once per record: linear in the channel's size.
        del self.buf[: self.pos]
        self.scanned = max(0, self.scanned - self.pos)
        self.pos = 0

    def close(self) -> None:
        """End of the channel: an unfinished record is garbage."""
        if not self.stopped and (len(self.buf) > self.pos or self.pending):
            self._fail(GARBAGE)
        self.stopped = True

    def _fail(self, why: str) -> None:
        self.run.protocol_error = why
        self.run.done = False
        self.stopped = True

    def _next(self) -> bool:
        """Take one complete record off the buffer; False when more data is needed."""
        if self.pending is None:
            end = self.buf.find(b"\n", max(self.pos, self.scanned))
            if end < 0:
                self.scanned = len(self.buf)
                return False
            record = json.loads(bytes(self.buf[self.pos : end]))
            if not isinstance(record, dict):
                raise ValueError("not an object")
            sizes = record.pop("b", [])
            # Every `.npy` blob has a header of at least NPY_MIN bytes: that bounds how many there
            # can be in the capped channel.
            if not isinstance(sizes, list) or not all(
                type(n) is int and n >= NPY_MIN for n in sizes
            ):
                raise ValueError("bad blob sizes")
            self.pos = end + 1
            self.pending = (record, sizes)
        record, sizes = self.pending
        total = sum(sizes)
        if len(self.buf) - self.pos < total:
            return False
        data = memoryview(bytes(self.buf[self.pos : self.pos + total]))
        self.pos += total
        self.pending = None
        blobs = []
        pos = 0
        for n in sizes:
            blobs.append(data[pos : pos + n])
            pos += n
        self._handle(record, blobs)
        return True

    def _handle(self, record: dict[str, Any], blobs: list[memoryview]) -> None:
        run = self.run
        kind = record.get("t")
        self.count += 1
        if self.count == 1:
            # Written before any submission code ran: the only record taken at face value.
            if kind != "setup" or not isinstance(record.get("layers"), dict):
                self._fail("the sandbox did not report its set-up")
                return
            run.setup = record
            return
        try:
            if kind == "probe":
                run.probe = record["seen"]
            elif kind == "loading":
                run.loading = True
            elif kind == "load":
                if run.load is not None:
                    raise ValueError("duplicate load")
                run.load = record
            elif kind == "begin":
                i = int(record["i"])
                if i in self.begun:
                    raise ValueError("duplicate begin")
                self.begun.add(i)
                run.began.append(i)
            elif kind == "test":
                i = int(record["i"])
                if i in run.tests:
                    raise ValueError("duplicate test")
                run.tests[i] = steps = [_decode_step(s, blobs) for s in record["steps"]]
                if self.on_test is not None:
                    self.on_test(i, steps)
            elif kind == "done":
                run.done = True
            else:
                raise ValueError("unknown record")
        except (KeyError, TypeError, ValueError, DecodeError, RecursionError):
            self._fail(TAMPERED)


def _parse_records(run: _Run, raw: bytes) -> None:
    """The whole channel at once (what `_RecordReader` does piece by piece)."""
    reader = _RecordReader(run)
    reader.feed(raw)
    reader.close()


def _decode_step(step: Any, blobs: list[memoryview]) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise DecodeError("step is not an object")
    out: dict[str, Any] = {}
    if "out" in step:
        out["out"] = decode(step["out"], blobs)
    if "after" in step:
        out["after"] = decode(step["after"], blobs)
    if "signature" in step:
        out["signature"] = str(step["signature"])[:2000]
    if "shared" in step:
        out["shared"] = _decode_shared(step["shared"])
    if "exc" in step:
        exc = step["exc"]
        if not isinstance(exc, dict):
            raise DecodeError("malformed exception")
        out["exc"] = {
            "type": str(exc.get("type", "Exception"))[:100],
            "builtin_bases": [str(b) for b in exc.get("builtin_bases", [])][:20],
            "message": str(exc.get("message", ""))[:2000],
            "traceback": [str(x)[:300] for x in exc.get("traceback", [])][:40],
            "raised_by": str(exc.get("raised_by", "unknown"))[:40],
        }
    if not out:
        raise DecodeError("empty step result")
    return out


def _decode_shared(shared: Any) -> list[dict[str, Any]]:
    """The child's `new_object` findings: plain data, re-built from checked parts only."""
    if not isinstance(shared, list):
        raise DecodeError("malformed memory report")

    def keys(path: Any) -> list[int | str]:
        if not isinstance(path, list) or len(path) > 40:
            raise DecodeError("malformed path")
        return [k if type(k) is int else str(k)[:100] for k in path if type(k) in (int, str)]

    out = []
    for entry in shared[:16]:
        if not isinstance(entry, dict) or not isinstance(entry.get("with"), list):
            raise DecodeError("malformed memory report")
        rep, label = entry.get("rep"), entry["with"]
        if len(label) != 3 or label[0] not in ("arg", "let", "out"):
            raise DecodeError("malformed memory report")
        out.append(
            {
                "rep": rep if type(rep) is int else None,
                "at": keys(entry.get("at", [])),
                "with": [label[0], keys([label[1]])[0] if keys([label[1]]) else 0, keys(label[2])],
                "how": "same" if entry.get("how") == "same" else "memory",
            }
        )
    return out


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _abnormal(run: _Run, limits: dict[str, float]) -> _Abnormal:
    st = run.status
    if run.overflow:
        return _Abnormal(
            f"produced more than {limits['result_mib']:g} MiB of results", "output too large"
        )
    if run.protocol_error:
        return _Abnormal(run.protocol_error, "invalid result")
    if "error" in st:
        return _Abnormal(f"internal sandbox error ({st['error']})", "internal error")
    if st.get("timed_out"):
        return _Abnormal(f"timed out (wall-clock limit {limits['wall_seconds']:g} s)", "timed out")
    sig = st.get("signal")
    if sig == signal.SIGXCPU or (
        sig == signal.SIGKILL and st.get("cpu", 0) >= limits["cpu_seconds"]
    ):
        return _Abnormal(
            f"exceeded the CPU time limit ({limits['cpu_seconds']:g} s)", "CPU time limit"
        )
    if sig == signal.SIGXFSZ:
        return _Abnormal(f"wrote a file larger than {limits['file_mib']:g} MiB", "file too large")
    if sig is not None:
        return _Abnormal(f"crashed ({_signal_name(sig)})", "crashed")
    code = st.get("exit")
    if code == 4:
        return _Abnormal("the sandbox refused to start", "internal error")
    return _Abnormal(
        f"ended the process (exit code {code}) before all tests ran; do not call "
        "sys.exit, os._exit or close the result channel",
        "exited early",
    )


def _load_failure(exercise: Exercise, load: dict[str, Any]) -> str:
    kind = load.get("kind")
    name = exercise.entry.name
    if kind == "syntax":
        return f"syntax error: {str(load.get('message', ''))[:500]}"
    if kind == "missing":
        return f"the submission does not define `{name}` (expected {exercise.entry.signature})"
    if kind in ("not_function", "not_class"):
        return f"`{name}` should be a {kind[4:]}: {exercise.entry.signature}"
    exc = load.get("exc") or {}
    return "raised an exception while loading: " + _format_exception(exc)


def _format_exception(exc: dict[str, Any]) -> str:
    text = f"{exc.get('type')}: {exc.get('message')}"
    if "MemoryError" in exc.get("builtin_bases", []):
        text = f"ran out of memory ({exc.get('type')}: {exc.get('message')})"
    elif exc.get("type") == "RecursionError":
        text = f"recursion too deep (RecursionError: {exc.get('message')})"
    tb = exc.get("traceback") or []
    if tb:
        text += "\n" + "\n".join(tb)
    return text


def _hidden_exception(exc: dict[str, Any]) -> str:
    name = exc.get("type", "")
    if "MemoryError" in exc.get("builtin_bases", []):
        return "out of memory"
    # Only builtin names: a submission could smuggle hidden inputs in a made-up class name.
    return f"raised {name}" if name in BUILTIN_EXCEPTIONS else "raised an exception"


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
            callee = f"obj.{body['name']}" if action == "method" else name
            rep = f" (x{step['repeat']})" if step.get("repeat", 1) > 1 else ""
            return f"step {index + 1}: {callee}({', '.join(parts)}){rep}"
    if "get" in step:
        return f"step {index + 1}: obj.{step['get']}"
    return f"step {index + 1}"


def _evaluate(
    exercise: Exercise,
    test: TestSpec,
    outcome: list[dict[str, Any]],
    ref: list[dict[str, Any]] | None,
) -> tuple[str, str]:
    """("", "") when the test passes, else (full message, message for a hidden test)."""
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
            return f"{desc}: {_format_exception(got['exc'])}", _hidden_exception(got["exc"])
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
            lets=lets,
            others=outcome[:j],
            param_names=params if action == "call" else [],
        )
        failures = [(p, c.get("message")) for c in checks if (p := run_check(c, ctx))]
        if failures:
            return _failure_text(desc, failures), "wrong result"
    return "", ""


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


def _failure_text(desc: _StepName | str, failures: list[tuple[str, str | None]]) -> str:
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
