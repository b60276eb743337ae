"""The harness that runs inside the sandbox: load the submission, run the steps, emit data.

Everything written to the result channel is a claim by an untrusted process; the parent trusts only
the first record (`setup`, written before any submission code runs) and checks the rest as data.
"""

from __future__ import annotations

import _thread
import builtins
import contextlib
import dis
import gc
import inspect
import json
import linecache
import os
import sys
import time
import traceback
import types
import warnings
from collections.abc import Callable
from json.encoder import c_encode_basestring_ascii, c_make_encoder  # type: ignore[attr-defined]
from typing import Any

import numpy as np
from numpy._core import _multiarray_umath  # type: ignore[attr-defined]

from grader import lab, protocol, sandbox, values
from grader.protocol import REMEMBERED_REPETITIONS, Kind, blobs_tag, line_tag
from grader.seal import seal
from grader.values import Blob, apply_mutation, encode, materialize

FILENAME = "submission.py"
MAX_TEXT = 2000
# Bound once, before any submission code runs: a submission cannot swap them for its own. The C
# functions themselves, not numpy's wrappers (which dispatch to an argument's `__array_function__`).
_shares_memory = _multiarray_umath.shares_memory
_may_share_memory = _multiarray_umath.may_share_memory
_TooHard = np.exceptions.TooHardError
# An array's dtype, shape and bytes as the C type keeps them (a subclass may override the names).
_nd_dtype = np.ndarray.__dict__["dtype"].__get__
_nd_shape = np.ndarray.__dict__["shape"].__get__
_nd_tobytes = np.ndarray.__dict__["tobytes"]
# JSON for records, in C: `json.dumps` looks up its encoder in the json module at each call.
_dumps = c_make_encoder({}, None, c_encode_basestring_ascii, None, ":", ",", False, False, False)
_dumps_sorted = c_make_encoder(
    {}, None, c_encode_basestring_ascii, None, ":", ",", True, False, False
)
_get_ident = _thread.get_ident
_gc_enable, _gc_disable, _gc_isenabled = gc.enable, gc.disable, gc.isenabled
_traceback_of = BaseException.__dict__["__traceback__"].__get__
_set_traceback = BaseException.__dict__["__traceback__"].__set__
_context_of = BaseException.__dict__["__context__"].__get__
_cause_of = BaseException.__dict__["__cause__"].__get__
# What a type is, as the interpreter keeps it (no metaclass property of the submission's runs).
_type_name = type.__dict__["__name__"].__get__
_type_mro = type.__dict__["__mro__"].__get__
# Opcodes of a `raise` statement: an exception whose innermost frame is the submission stopped at
# one of these was raised by the student's own code, not by a numpy (or builtin) call it made.
_RAISE_OPS = {dis.opmap[name] for name in ("RAISE_VARARGS", "RERAISE") if name in dis.opmap}
MAX_SHARED = 16
MAX_WALK = 256
IOV_MAX = 1024
# Where records go: the result channel, except during `warm_up`.
_result_fd = sandbox.RESULT_FD
# The run's key (from its job) and the number of the next record (the setup, untagged, is 0).
_key: list[bytes | None] = [None]
_seq: list[int] = [1]


def emit(record: dict[str, Any], blobs: list[Blob] | None = None) -> None:
    """One record: a JSON line, then the blobs it names (their sizes in its "b" key); tagged with
    the run's key once the job brought one (grader/protocol.py)."""
    if blobs:
        record["b"] = [len(header) + len(data) for header, data in blobs]
    line = "".join(_dumps(record, 0)).encode()
    key = _key[0]
    if key is not None:
        seq = _seq[0]
        _seq[0] = seq + 1
        parts = [part for blob in blobs or () for part in blob]
        line = line_tag(key, seq, line) + b" " + blobs_tag(key, seq, parts) + b" " + line
    line += b"\n"
    buffers = [memoryview(line)]
    for header, data in blobs or ():
        buffers += [memoryview(header), memoryview(data)]
    while buffers:
        try:
            n = os.writev(_result_fd, buffers[:IOV_MAX])
        except OSError:
            os._exit(3)
        # Drop what was written; a partial write leaves the rest of one buffer.
        done = 0
        while done < len(buffers) and n >= len(buffers[done]):
            n -= len(buffers[done])
            done += 1
        buffers = buffers[done:]
        if n:
            buffers[0] = buffers[0][n:]


# A made-up exercise run by every standby before it gets a job (see `warm_up`).
WARM_SOURCE = """
import numpy as np

def warm(x, n, rng=None, scale=1.0):
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = np.random.default_rng(0) if rng is None else rng
    keep = rng.random(x.shape) < 0.5
    out = np.where(keep, x / 0.5, 0.0).astype(x.dtype) * scale
    return out, float(out.sum()), np.float64(x.mean()), {"n": int(n), "ok": bool(keep.any())}
"""
_X = {"$array": {"random": "normal", "shape": [6, 5], "seed": 0, "dtype": "float32"}}
WARM_JOB: dict[str, Any] = {
    "mode": "run",
    "source": WARM_SOURCE,
    "entry": {"name": "warm", "kind": "function"},
    "tests": [
        {
            "index": 0,
            "let": {"x": _X, "u": {"$array": {"random": "uniform", "shape": [4], "seed": 2}}},
            "steps": [
                {
                    "action": "call",
                    "body": {"args": [{"$ref": "x"}, 3], "kwargs": {"rng": {"$rng": 5}}},
                    "repeat": 2,
                    "raises": False,
                    "snapshot": True,
                },
                {
                    "action": "call",
                    "body": {
                        "args": [
                            {"$array": {"values": [1.5, "nan", "inf"], "dtype": "float64"}},
                            1,
                        ],
                        "kwargs": {"scale": {"$float": "-inf"}, "rng": None},
                    },
                    "repeat": 1,
                    "raises": False,
                    "snapshot": False,
                },
                {
                    "action": "mutate",
                    "body": {"ref": "u", "op": "add", "value": 1.0},
                    "repeat": 1,
                    "raises": False,
                    "snapshot": False,
                },
                {
                    "action": "call",
                    "body": {"args": [{"$tuple": [1, 2]}, -1]},
                    "repeat": 1,
                    "raises": True,
                    "snapshot": False,
                },
            ],
        }
    ],
}


def warm_up() -> None:
    """Run the harness once on a made-up exercise, its records dropped: a standby does this while
    it waits, so the copy-on-write faults and first-call costs of the harness's code paths are paid
    before a job arrives, not while it runs. Only trusted code and made-up data are involved."""
    global _result_fd
    cached = set(linecache.cache)
    devnull = os.open("/dev/null", os.O_WRONLY | os.O_CLOEXEC)
    # Whatever it might print goes nowhere (the job's own output pipe replaces these later).
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    _result_fd = devnull
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            _run(WARM_JOB)
    except Exception:
        pass  # only an optimization: the job runs the same without it
    finally:
        _result_fd = sandbox.RESULT_FD
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os.close(devnull)
        sys.modules.pop("submission", None)
        for name in set(linecache.cache) - cached:
            linecache.cache.pop(name, None)
        _signatures.clear()


def sealed() -> types.SimpleNamespace:
    """The harness's entry points (`warm_up`, `run_job`) over a sealed copy of the harness
    (grader/seal.py): made once, in the zygote, before any job."""
    space = seal([sys.modules[__name__], values, lab, protocol])[__name__]
    return types.SimpleNamespace(warm_up=space["warm_up"], run_job=space["run_job"])


def run_job(cfg: dict[str, Any], prepared: dict[str, Any], filt: Any) -> None:
    """Entry point in the job process (the reaper's child) once its job arrived: never returns.
    `filt` is the zygote's seccomp filter, installed as the last layer before the job runs."""
    job_fd = sandbox.JOB_FD
    # The streams' flush, taken before any submission code runs: a submission may replace
    # sys.stdout or its methods, and nothing of it may run once its results are in.
    flushes = [(type(stream).flush, stream) for stream in (sys.stdout, sys.stderr)]
    try:
        layers = sandbox.enter(cfg, prepared, filt)
        missing = [k for k in sandbox.REQUIRED_LAYERS if layers.get(k) is not True]
        emit({"t": Kind.SETUP, "layers": layers})
        if missing and not cfg.get("allow_unsafe"):
            os._exit(4)
        os.chdir(sandbox.JOB_DIR if layers.get("mountns") is True else cfg["fallback_dir"])
        job = _read_job(job_fd)
        key = job.pop("key", None)
        _key[0] = bytes.fromhex(key) if isinstance(key, str) else None
        if job["mode"] == "probe":
            emit({"t": Kind.PROBE, "seen": sandbox.observe(cfg)})
            if job.get("hang"):
                time.sleep(3600)
        else:
            sys.addaudithook(_audit)
            _run(job)
        for flush, stream in flushes:
            with contextlib.suppress(BaseException):
                flush(stream)
        emit({"t": Kind.DONE})
        # Close the channels now: the parent sees EOF at once instead of after namespace teardown.
        for fd in (sandbox.RESULT_FD, 1, 2):
            with contextlib.suppress(OSError):
                os.close(fd)
    except BaseException:
        # Only reachable before submission code runs (it is wrapped below): a harness failure.
        traceback.print_exc()
        os._exit(5)
    finally:
        # atexit hooks and finalizers a submission registered must not run, nor ever return to
        # the zygote's loop.
        os._exit(0)


def _read_job(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    os.close(fd)
    job: dict[str, Any] = json.loads(b"".join(chunks))
    return job


def _exception(exc: BaseException) -> dict[str, Any]:
    entries, raised_by = _traceback_entries(exc)
    _forget(exc)  # before any of the submission's code (its __str__) runs again
    try:
        text = str(exc)
    except BaseException as failed:
        _forget(failed)
        text = "<unprintable>"
    lines = _source[0]
    frames = []
    for lineno, name in entries:
        frames.append(f'  File "{FILENAME}", line {lineno}, in {str(name)[:100]}')
        if 0 < lineno <= len(lines) and lines[lineno - 1].strip():
            frames.append(f"    {lines[lineno - 1].strip()}")
    t = type(exc)
    return {
        "type": _type_name(t)[:100],
        "builtin_bases": _builtin_bases(t),
        "message": text[:MAX_TEXT],
        "traceback": frames[-20:],
        "raised_by": raised_by,
    }


# The builtin exception classes with their names, taken when the harness is imported (before any
# submission code). A class is one of them only if it *is* one: a class of the submission's can
# take any `__name__`, `__qualname__` and `__module__`, and a `raises: ValueError` check must
# pass exactly what a caller's `except ValueError:` catches. A tuple compared by `is` (no hash or
# `==`, which a metaclass of the submission's could define).
_BUILTIN_EXCEPTIONS = tuple(
    (value, name)
    for name, value in vars(builtins).items()
    # aliases (IOError is OSError) left out: each class under its own name
    if type(value) is type and issubclass(value, BaseException) and value.__name__ == name
)


def _builtin_bases(t: type) -> list[str]:
    """The names of the builtin exception classes in `t`'s MRO (as the interpreter keeps it)."""
    return [name for c in _type_mro(t) for cls, name in _BUILTIN_EXCEPTIONS if c is cls]


def _traceback_entries(exc: BaseException) -> tuple[list[tuple[int, str]], str]:
    """The submission's lines in `exc`'s traceback, as (line, function), and who raised it (see
    `_raised_by`). Frames are read in the harness's trusted window (see `_audit`), where only
    attributes of the interpreter's own types are read (tracebacks, frames, code objects: none
    runs Python code) with the collector off (no finalizer of the submission's runs meanwhile)."""
    entries: list[tuple[int, str]] = []
    last = None
    module: Any = None
    op = -1
    collecting = _gc_isenabled()
    _gc_disable()
    _window[0] = _get_ident()
    try:
        tb = _traceback_of(exc)
        while tb is not None:
            code = tb.tb_frame.f_code
            if type(code.co_filename) is str and code.co_filename == FILENAME:
                entries.append((tb.tb_lineno, code.co_name))
            last = tb
            tb = tb.tb_next
        if last is not None:
            code = last.tb_frame.f_code
            if type(code.co_filename) is str and code.co_filename == FILENAME:
                module = FILENAME
                if 0 <= last.tb_lasti < len(code.co_code):
                    op = code.co_code[last.tb_lasti]
            else:
                module = last.tb_frame.f_globals
    except BaseException as failed:
        _forget(failed)
        entries, last = [], None
    finally:
        _window[0] = None
        if collecting:
            _gc_enable()
    return entries[-20:], _raised_by(last, module, op)


def _raised_by(last: Any, module: Any, op: int) -> str:
    """Who raised an exception: "submission" when its innermost frame is the submission stopped
    at a `raise` statement; otherwise the top-level package of the innermost frame ("numpy"), or
    "builtin" when the submission's frame was calling code without Python frames (a C function
    such as `rng.binomial` or `int()`)."""
    if last is None:
        return "unknown"
    if module is FILENAME:  # identity: `module` may be a frame's globals, of any dict subclass
        return "submission" if op in _RAISE_OPS else "builtin"
    try:
        name = dict.get(module, "__name__") if isinstance(module, dict) else None
        return name.split(".")[0][:40] if type(name) is str and name else "library"
    except BaseException as failed:
        _forget(failed)
        return "unknown"


def _forget(exc: BaseException) -> None:
    """Drop the tracebacks of `exc` and of the exceptions chained to it. An exception the harness
    caught ran through the harness's own frames: kept in a cycle the submission made (say, an
    exception that refers to itself), they would outlive the handler as garbage, and the
    collector's `gc.garbage` (with `DEBUG_SAVEALL`) hands out garbage frames and all."""
    pending: list[Any] = [exc]
    for _ in range(64):
        if not pending:
            break
        e = pending.pop()
        if isinstance(e, BaseException):
            _set_traceback(e, None)
            pending += [_context_of(e), _cause_of(e)]


# The submission's source lines, for the lines of its tracebacks.
_source: list[list[str]] = [[]]
# The thread in the harness's trusted window, if any (see `_audit`).
_window: list[int | None] = [None]
_REFUSED_EVENTS = frozenset(
    {
        "sys._getframe",
        "sys._current_frames",
        "sys._current_exceptions",
        "sys.settrace",
        "sys.setprofile",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
    }
)
_FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
# ctypes may call the C library (the attack tests' raw system calls do), but not the interpreter's
# own C API, whose `PyEval_GetFrame` and the like hand out the frames refused above.
_SYMBOL_EVENTS = frozenset({"ctypes.dlsym", "ctypes.dlsym/handle"})
_C_API = ("Py", "_Py")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """The job's audit hook, added just before the submission compiles. The submission gets no
    frame (the harness's frames below its calls hold the harness's namespace and the tests'
    data), no collector's view of other objects, no tracer, none of the interpreter's C API
    through ctypes, and no audit hook of its own (which would be shown the harness's own
    accesses). Outside the harness's trusted window these fail with ValueError, which the
    standard library's optional uses of frames (`logging`, `collections.namedtuple`) already
    handle."""
    if (
        event in _REFUSED_EVENTS
        or (event == "object.__getattr__" and args[1] in _FRAME_ATTRIBUTES)
        or (event in _SYMBOL_EVENTS and type(args[1]) is str and args[1].startswith(_C_API))
    ):
        if _window[0] != _get_ident():
            raise ValueError(f"{event} is not available in the grader's sandbox")
    elif event == "sys.addaudithook":
        raise RuntimeError("the grader's sandbox takes no audit hooks")


def _reachable(value: Any, path: list[Any], found: list[tuple[list[Any], Any]], depth: int = 0):
    """Every ndarray, list and dict inside `value` with its path (bounded walk)."""
    if len(found) >= MAX_WALK or depth > 8:
        return
    # Types, never isinstance(): it falls back on the object's `__class__`, which the submission
    # can make a property, its own code running while the harness looks at its output.
    t = type(value)
    if issubclass(t, np.ndarray):
        found.append((path, value))
    elif t is list or t is tuple:
        if t is list:
            found.append((path, value))
        for i, v in enumerate(value[:MAX_WALK]):
            _reachable(v, [*path, i], found, depth + 1)
    elif t is dict:
        found.append((path, value))
        for k, v in list(value.items())[:MAX_WALK]:
            if type(k) is str or type(k) is int:
                _reachable(v, [*path, k], found, depth + 1)


def _overlaps(a: Any, b: Any) -> bool:
    if not issubclass(type(a), np.ndarray) or not issubclass(type(b), np.ndarray):
        return False
    if not _may_share_memory(a, b):
        return False
    try:
        return bool(_shares_memory(a, b, max_work=1_000_000))
    except _TooHard as failed:
        _forget(failed)
        return True  # bounds overlap and too hard to prove otherwise: a new array never does


def _sharing(
    out: Any, rep: int | None, sources: list[tuple[list[Any], list[tuple[list[Any], Any]]]]
) -> list[dict[str, Any]]:
    """Where the output is (or shares memory with) one of `sources`' objects: the arguments, the
    test's named values and earlier steps' outputs, each a (label, reachable objects) pair."""
    found: list[dict[str, Any]] = []
    mine: list[tuple[list[Any], Any]] = []
    _reachable(out, [], mine)
    for at, obj in mine:
        for label, objects in sources:
            hit = next(
                (
                    (where, "same" if obj is other else "memory")
                    for where, other in objects
                    if obj is other or _overlaps(obj, other)
                ),
                None,
            )
            if hit is not None:
                found.append({"rep": rep, "at": at, "with": [*label, hit[0]], "how": hit[1]})
                break
        if len(found) >= MAX_SHARED:
            break
    return found


def _run(job: dict[str, Any]) -> None:
    source: str = job["source"]
    module = types.ModuleType("submission")
    module.__file__ = FILENAME
    module.__dict__["__builtins__"] = builtins
    sys.modules["submission"] = module
    linecache.cache[FILENAME] = (len(source), None, source.splitlines(True), FILENAME)
    _source[0] = source.splitlines()
    try:
        code = compile(source, FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", None) or str(exc)
        where = f"line {line}: " if line else ""
        emit({"t": Kind.LOAD, "ok": False, "kind": "syntax", "message": f"{where}{msg}"[:MAX_TEXT]})
        return
    emit({"t": Kind.LOADING})
    # The harness's modules out of the submission's plain sight: none of its names to patch by
    # `sys.modules["grader._child"]`. (Deliberate introspection still reaches them: SPEC.md, "What
    # the layers do not close".) The harness holds what it uses by reference; nothing of it is
    # imported from here on.
    for name in [n for n in sys.modules if n == "grader" or n.startswith("grader.")]:
        del sys.modules[name]
    try:
        exec(code, module.__dict__)
    except BaseException as exc:
        emit({"t": Kind.LOAD, "ok": False, "kind": "exception", "exc": _exception(exc)})
        return
    entry = job["entry"]
    target = module.__dict__.get(entry["name"])
    if target is None:
        emit({"t": Kind.LOAD, "ok": False, "kind": "missing"})
        return
    is_class = isinstance(target, type)
    if (entry["kind"] == "class") != is_class or not callable(target):
        emit({"t": Kind.LOAD, "ok": False, "kind": "not_" + entry["kind"]})
        return
    emit({"t": Kind.LOAD, "ok": True})
    for test in job["tests"]:
        emit({"t": Kind.BEGIN, "i": test["index"]})
        blobs: list[Blob] = []
        steps = _run_test(test, target, blobs, module.__dict__, job.get("lab"))
        emit({"t": Kind.TEST, "i": test["index"], "steps": steps}, blobs)


def _piece(names: dict[str, Any], name: str) -> Any:
    """A lab piece from the submission's module (a `train` step or a `target` of a call)."""
    value = names.get(name)
    if value is None or not callable(value):
        raise NameError(f"the submission does not define `{name}`, which the lab needs")
    return value


def _train(body: dict[str, Any], names: dict[str, Any], config: dict[str, Any] | None) -> Any:
    """One run of the lab's training loop with the submission's pieces (none for the baseline)."""
    if config is None:
        raise RuntimeError("a train step without a lab configuration")
    key = "".join(_dumps_sorted(body, 0))
    if key not in _trained:  # tests of one job share a run: the loop is deterministic
        pieces = {}
        if not body.get("baseline"):
            pieces = {role: _piece(names, name) for role, name in config["pieces"].items()}
        _trained[key] = lab.train(config, pieces, body.get("dropout_seed"))
    return _trained[key]


# The training runs of this job by their `train` body (a job is one process).
_trained: dict[str, Any] = {}


def _run_test(
    test: dict[str, Any],
    target: Any,
    blobs: list[Blob],
    names: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    try:
        lets = {k: materialize(v, {}) for k, v in test["let"].items()}
    except BaseException as exc:
        return [{"exc": _exception(exc)}]
    obj: Any = None
    # Earlier steps' outputs, for `new_object` checks: (step index, reachable objects).
    earlier: list[tuple[list[Any], list[tuple[list[Any], Any]]]] = []
    for index, step in enumerate(test["steps"]):
        action, body = step["action"], step["body"]
        result: dict[str, Any] = {}
        try:
            if action == "mutate":
                apply_mutation(lets, body)
                result["out"] = None
            elif action == "train":
                result["out"] = encode(_train(body, names or {}, config), blobs)
            elif action == "get":
                value = getattr(obj, body)
                result["out"] = encode(value, blobs)
                if step.get("memory"):
                    result["shared"] = _sharing(value, None, _memory_sources(None, lets, earlier))
                _remember(earlier, index, value)
            else:
                entry = action in ("call", "new")
                fn = target if entry else getattr(obj, body["name"])
                if entry and "target" in body:
                    fn = _piece(names or {}, body["target"])
                memory, snapshot = bool(step.get("memory")), bool(step["snapshot"])
                watch = _watch(lets, earlier, blobs, result, memory, snapshot)
                outs = _call(fn, body, lets, step["repeat"], result, entry, watch)
                if action != "new":
                    for o in outs[:REMEMBERED_REPETITIONS]:
                        _remember(earlier, index, o)
                if "signature" not in result:
                    if action == "new":
                        obj = outs[0]
                        result["out"] = None
                    else:
                        result["out"] = (
                            encode(outs[0], blobs)
                            if step["repeat"] == 1
                            else [encode(o, blobs) for o in outs]
                        )
        except BaseException as exc:
            result = {"exc": _exception(exc)}
        results.append(result)
        failed = "exc" in result or "signature" in result
        if failed and not step["raises"]:
            break
    return results


def _memory_sources(
    args: Any, lets: dict[str, Any], earlier: list[tuple[list[Any], list[tuple[list[Any], Any]]]]
) -> list[tuple[list[Any], list[tuple[list[Any], Any]]]]:
    sources: list[tuple[list[Any], list[tuple[list[Any], Any]]]] = []
    if args is not None:
        pos, kw = args
        for i, a in enumerate(pos):
            objects: list[tuple[list[Any], Any]] = []
            _reachable(a, [], objects)
            sources.append((["arg", i], objects))
        for k, a in kw.items():
            objects = []
            _reachable(a, [], objects)
            sources.append((["arg", k], objects))
    for name, value in lets.items():
        objects = []
        _reachable(value, [], objects)
        sources.append((["let", name], objects))
    return sources + earlier


def _remember(
    earlier: list[tuple[list[Any], list[tuple[list[Any], Any]]]], index: int, value: Any
) -> None:
    objects: list[tuple[list[Any], Any]] = []
    _reachable(value, [], objects)
    if objects:
        earlier.append((["out", index], objects))


Watch = tuple[Callable[[Any, Any], Any], Callable[[int | None, Any, Any, bool], None]]


def _watch(
    lets: dict[str, Any],
    earlier: list[tuple[list[Any], list[tuple[list[Any], Any]]]],
    blobs: list[Blob],
    result: dict[str, Any],
    memory: bool,
    snapshot: bool,
) -> Watch | None:
    """What a call step observes, as two callbacks around each call: `before(pos, kw)` takes
    what the arguments are (their objects, a skeleton of their lists and dicts holding the
    objects they hold now, and the arrays' contents); `after(rep, out, taken)`, run with the
    collector off right after the call, records where the output shares memory with what came
    before (`shared`) and the arguments as they were handed over (`after`, the same arrays, so
    their in-place changes show) with which of the caller's lists and dicts now hold other
    objects (`replaced`): of the first repetition that changed its arguments (`after_rep`), or
    of the last one when none did, so that every repetition of a `repeat` step counts. Taken
    before the call, so that a call that swaps copies into the caller's containers hides
    nothing. (Functions, not a class: a class's methods would run over the harness's real
    module, see grader/seal.py.)"""
    if not memory and not snapshot:
        return None
    found: list[dict[str, Any]] = result.setdefault("shared", []) if memory else []

    def before(pos: list[Any], kw: dict[str, Any]) -> Any:
        sources = _memory_sources([pos, kw], lets, earlier) if memory else None
        containers: list[tuple[list[Any], Any, list[Any]]] = []
        arrays: list[tuple[Any, Any, Any, bytes]] = []
        skeleton = None
        if snapshot:
            skeleton = [
                [_skeleton(a, ["arg", i], containers, arrays) for i, a in enumerate(pos)],
                {k: _skeleton(a, ["arg", k], containers, arrays) for k, a in kw.items()},
            ]
        return sources, skeleton, containers, arrays

    def after(rep: int | None, out: Any, taken: Any, last: bool) -> None:
        sources, skeleton, containers, arrays = taken
        if skeleton is not None and "after" not in result:
            replaced = _replaced(containers)
            if last or replaced or _arrays_changed(arrays):
                result["after"] = encode(skeleton, blobs)
                result["after_rep"] = rep
                if replaced:
                    result["replaced"] = replaced[:MAX_SHARED]
        if sources is not None and len(found) < MAX_SHARED:
            found.extend(_sharing(out, rep, sources))
            del found[MAX_SHARED:]

    return before, after


def _skeleton(
    value: Any, path: list[Any], containers: list[Any], arrays: list[Any], depth: int = 0
) -> Any:
    """`value` with each list, tuple and dict in it copied, holding the objects it holds now (an
    array stays itself, its dtype, shape and bytes go into `arrays`); each list and dict, with
    its path and a copy of its items, goes into `containers` for `_replaced`."""
    t = type(value)
    if depth > 8:
        return value
    if issubclass(t, np.ndarray):
        arrays.append((value, _nd_dtype(value), _nd_shape(value), _nd_tobytes(value)))
        return value
    if t is list:
        containers.append((path, value, list(value)))
        return [
            _skeleton(v, [*path, i], containers, arrays, depth + 1) for i, v in enumerate(value)
        ]
    if t is tuple:
        return tuple(
            _skeleton(v, [*path, i], containers, arrays, depth + 1) for i, v in enumerate(value)
        )
    if t is dict:
        containers.append((path, value, list(value.items())))
        return {
            k: _skeleton(v, [*path, k], containers, arrays, depth + 1)
            for k, v in value.items()
            if type(k) is str
        }
    return value


def _arrays_changed(arrays: list[tuple[Any, Any, Any, bytes]]) -> bool:
    """Whether any of these arrays has another dtype, shape or contents than it had (bytes
    compared: a change the parent's comparison would not see, -0.0 for 0.0, only sends it the
    arguments of that repetition to judge)."""
    return any(
        _nd_dtype(a) is not dtype or _nd_shape(a) != shape or _nd_tobytes(a) != data
        for a, dtype, shape, data in arrays
    )


def _replaced(containers: list[tuple[list[Any], Any, list[Any]]]) -> list[list[Any]]:
    """The paths of the lists and dicts whose items are no longer the objects they were (compared
    by identity; a dict's keys, strings, by value in their order)."""
    found = []
    for path, container, items in containers:
        now = list(container) if type(container) is list else list(container.items())
        same = len(now) == len(items)
        if same and type(container) is list:
            same = all(a is b for a, b in zip(now, items, strict=True))
        elif same:
            same = all(
                type(k) is str and type(j) is str and k == j and v is w
                for (k, v), (j, w) in zip(now, items, strict=True)
            )
        if not same:
            found.append(path)
    return found


# The entry point's signature, computed once per job: {id: (the object, its signature or None)}.
_signatures: dict[int, tuple[Any, inspect.Signature | None]] = {}


def _signature(fn: Any, cache: bool) -> inspect.Signature | None:
    known = _signatures.get(id(fn)) if cache else None
    if known is not None and known[0] is fn:
        return known[1]
    try:
        sig: inspect.Signature | None = inspect.signature(fn)
    except ValueError as failed:
        _forget(failed)  # it may come from the submission's own `__signature__`
        sig = None  # no signature available (e.g. builtins): let the call decide
    if cache:
        _signatures[id(fn)] = (fn, sig)  # holds fn, so its id is never reused meanwhile
    return sig


def _call(
    fn: Any,
    body: dict[str, Any],
    lets: dict[str, Any],
    repeat: int,
    result: dict[str, Any],
    entry: bool = False,
    watch: Watch | None = None,
) -> list[Any]:
    outs = []
    for r in range(repeat):
        rep = None if repeat == 1 else r
        pos = materialize(body.get("args", []), lets, rep)
        kw = materialize(body.get("kwargs", {}), lets, rep)
        if r == 0:
            try:
                sig = _signature(fn, entry)
                if sig is not None:
                    sig.bind(*pos, **kw)
            except TypeError as exc:
                _forget(exc)
                result["signature"] = str(exc)[:MAX_TEXT]
                return []
        if watch is None:
            outs.append(fn(*pos, **kw))
            continue
        taken = watch[0](pos, kw)
        out = fn(*pos, **kw)
        # The collector off before anything is allocated: no finalizer or weakref callback of the
        # submission's may run (and, say, put its inputs back) while the call is observed.
        collecting = _gc_isenabled()
        _gc_disable()
        try:
            watch[1](rep, out, taken, r == repeat - 1)
        finally:
            if collecting:
                _gc_enable()
        outs.append(out)
    return outs
