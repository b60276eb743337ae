"""The harness that runs inside the sandbox: load the submission, run the steps, emit data.

Everything written to the result channel is a claim by an untrusted process; the parent trusts only
the first record (`setup`, written before any submission code runs) and checks the rest as data.
"""

from __future__ import annotations

import builtins
import contextlib
import inspect
import json
import linecache
import os
import sys
import time
import traceback
import types
from typing import Any

from grader import sandbox
from grader.values import apply_mutation, encode, materialize

FILENAME = "submission.py"
MAX_TEXT = 2000


def emit(record: dict[str, Any]) -> None:
    data = (json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n").encode()
    view = memoryview(data)
    while view:
        try:
            n = os.write(sandbox.RESULT_FD, view)
        except OSError:
            os._exit(3)
        view = view[n:]


def run_job(cfg: dict[str, Any]) -> None:
    """Entry point after the fork: never returns."""
    job_fd = sandbox.JOB_FD
    try:
        os.close(sandbox.STATUS_FD)
        layers = sandbox.enter(cfg)
        required = ("uid_separation", "rlimits")
        missing = [k for k in required if layers.get(k) is not True]
        emit({"t": "setup", "layers": layers})
        if missing and not cfg.get("allow_unsafe"):
            os._exit(4)
        os.chdir(sandbox.JOB_DIR if layers.get("mountns") is True else cfg["fallback_dir"])
        job = _read_job(job_fd)
        if job["mode"] == "probe":
            emit({"t": "probe", "seen": sandbox.observe(cfg)})
            if job.get("hang"):
                time.sleep(3600)
        else:
            _run(job)
        emit({"t": "done"})
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
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
    try:
        text = str(exc)
    except BaseException:
        text = "<unprintable>"
    frames = []
    for f in traceback.extract_tb(exc.__traceback__):
        if f.filename == FILENAME:
            frames.append(f'  File "{FILENAME}", line {f.lineno}, in {f.name}')
            if f.line:
                frames.append(f"    {f.line.strip()}")
    t = type(exc)
    return {
        "type": t.__name__[:100],
        "builtin_bases": [c.__name__ for c in t.__mro__ if c.__module__ == "builtins"],
        "message": text[:MAX_TEXT],
        "traceback": frames[-20:],
    }


def _run(job: dict[str, Any]) -> None:
    source: str = job["source"]
    module = types.ModuleType("submission")
    module.__file__ = FILENAME
    module.__dict__["__builtins__"] = builtins
    sys.modules["submission"] = module
    linecache.cache[FILENAME] = (len(source), None, source.splitlines(True), FILENAME)
    try:
        code = compile(source, FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", None) or str(exc)
        where = f"line {line}: " if line else ""
        emit({"t": "load", "ok": False, "kind": "syntax", "message": f"{where}{msg}"[:MAX_TEXT]})
        return
    emit({"t": "loading"})
    try:
        exec(code, module.__dict__)
    except BaseException as exc:
        emit({"t": "load", "ok": False, "kind": "exception", "exc": _exception(exc)})
        return
    entry = job["entry"]
    target = module.__dict__.get(entry["name"])
    if target is None:
        emit({"t": "load", "ok": False, "kind": "missing"})
        return
    is_class = isinstance(target, type)
    if (entry["kind"] == "class") != is_class or not callable(target):
        emit({"t": "load", "ok": False, "kind": "not_" + entry["kind"]})
        return
    emit({"t": "load", "ok": True})
    for test in job["tests"]:
        emit({"t": "begin", "i": test["index"]})
        emit({"t": "test", "i": test["index"], "steps": _run_test(test, target)})


def _run_test(test: dict[str, Any], target: Any) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    try:
        lets = {k: materialize(v, {}) for k, v in test["let"].items()}
    except BaseException as exc:
        return [{"exc": _exception(exc)}]
    obj: Any = None
    for step in test["steps"]:
        action, body = step["action"], step["body"]
        result: dict[str, Any] = {}
        try:
            if action == "mutate":
                apply_mutation(lets, body)
                result["out"] = None
            elif action == "get":
                result["out"] = encode(getattr(obj, body))
            else:
                fn = target if action in ("call", "new") else getattr(obj, body["name"])
                outs, args = _call(fn, body, lets, step["repeat"], result)
                if "signature" not in result:
                    if action == "new":
                        obj = outs[0]
                        result["out"] = None
                    else:
                        result["out"] = (
                            encode(outs[0]) if step["repeat"] == 1 else [encode(o) for o in outs]
                        )
                    if step["snapshot"]:
                        result["after"] = encode(args)
        except BaseException as exc:
            result = {"exc": _exception(exc)}
        results.append(result)
        failed = "exc" in result or "signature" in result
        if failed and not step["raises"]:
            break
    return results


def _call(
    fn: Any, body: dict[str, Any], lets: dict[str, Any], repeat: int, result: dict[str, Any]
) -> tuple[list[Any], Any]:
    outs = []
    args: Any = None
    for r in range(repeat):
        rep = None if repeat == 1 else r
        pos = materialize(body.get("args", []), lets, rep)
        kw = materialize(body.get("kwargs", {}), lets, rep)
        if r == 0:
            try:
                inspect.signature(fn).bind(*pos, **kw)
            except TypeError as exc:
                result["signature"] = str(exc)[:MAX_TEXT]
                return [], None
            except ValueError:
                pass  # no signature available (e.g. builtins): let the call decide
        outs.append(fn(*pos, **kw))
        args = [pos, kw]
    return outs, args
