"""The warm zygote: a root process with numpy imported that forks one sandboxed job per request.

Process tree of one job:  zygote -> supervisor (root, waits, enforces the wall clock)
                                    -> job (PID 1 of a new PID namespace, drops to the slot's uid)
When the job process dies the kernel kills everything else in its PID namespace, so orphans and
double-forked daemons cannot outlive it. The zygote never reads job contents (sources, test inputs):
they travel in a memfd straight to the job process, so nothing lingers in the zygote's heap that a
later job could find in its inherited memory.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import selectors
import signal
import socket
import sys
import time
from typing import Any

MAX_MESSAGE = 65536
BACKSTOP_SECONDS = 5.0


def preload() -> None:
    """Import (and warm up) all a submission may use: the sandbox uid cannot read the stdlib."""
    import collections  # noqa: F401
    import copy  # noqa: F401
    import dataclasses  # noqa: F401
    import encodings.ascii
    import encodings.idna
    import encodings.latin_1  # noqa: F401
    import functools  # noqa: F401
    import itertools  # noqa: F401
    import math  # noqa: F401
    import typing  # noqa: F401

    import numpy as np
    import numpy.fft
    import numpy.linalg
    import numpy.random

    # Touch lazily imported paths once so the child never needs the filesystem for them.
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4)).astype(np.float32)
    np.linalg.norm(a)
    np.linalg.inv(a.astype(np.float64) + 4 * np.eye(4))
    numpy.fft.fft(a[0])
    repr(a)
    str(a)
    np.array2string(a)
    f"{1.5:.3f} {2.5!r}"
    rng.binomial(1, 0.5, 3)
    rng.beta(0.4, 0.4, 3)
    np.einsum("ij,jk->ik", a, a)
    np.clip(a, -1, 1).astype(np.float16).sum()
    try:
        raise ValueError("warm")
    except ValueError as exc:
        import traceback

        traceback.format_exception(exc)
    from grader import _child, sandbox, values  # noqa: F401


def main(control_fd: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.chdir("/")
    preload()
    from grader import _child, sandbox

    sock = socket.socket(fileno=control_fd)
    sock.setblocking(True)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, None)
    # pidfd -> (job id, supervisor pid, status read fd, backstop deadline)
    jobs: dict[int, tuple[Any, int, int, float]] = {}
    _send(sock, {"ready": True, "pid": os.getpid(), "euid": os.geteuid()})

    while True:
        now = time.monotonic()
        deadlines = [d for (_, _, _, d) in jobs.values()]
        timeout = max(0.0, min(deadlines) - now) if deadlines else None
        for key, _ in sel.select(timeout):
            if key.data is None:
                try:
                    msg, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 4)
                except OSError:
                    msg, fds = b"", []
                if not msg:
                    _shutdown(jobs)
                    return
                request = json.loads(msg)
                if request.get("op") == "exit":
                    _shutdown(jobs)
                    return
                forked = _fork_job(request, fds, _child, sandbox)
                for fd in fds:
                    os.close(fd)
                if forked is None:
                    _send(sock, {"job": request.get("job"), "error": "fork failed"})
                    continue
                pid, status_r = forked
                pidfd = os.pidfd_open(pid)
                deadline = time.monotonic() + float(request["cfg"]["limits"]["wall_seconds"])
                jobs[pidfd] = (request["job"], pid, status_r, deadline + BACKSTOP_SECONDS)
                sel.register(pidfd, selectors.EVENT_READ, "job")
            else:
                pidfd = key.fd
                job_id, pid, status_r, _ = jobs.pop(pidfd)
                sel.unregister(pidfd)
                os.close(pidfd)
                os.waitpid(pid, 0)
                status = _read_status(status_r)
                _send(sock, {"job": job_id, **status})
        now = time.monotonic()
        for _, pid, _, deadline in list(jobs.values()):
            if now > deadline:
                # A stuck supervisor is killed; its job dies with it (parent-death signal).
                _kill(pid)


def _fork_job(
    request: dict[str, Any], fds: list[int], child_mod: Any, sandbox: Any
) -> tuple[int, int] | None:
    if len(fds) != 3:
        return None
    job_fd, result_w, output_w = fds
    status_r, status_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(status_r)
        os.close(status_w)
        return None
    if pid:
        os.close(status_w)
        return pid, status_r
    # --- supervisor (root) ---
    try:
        sandbox.set_pdeathsig()
        os.setsid()
        # Also closes the zygote's control socket, selector and other jobs' descriptors.
        sandbox.redirect_fds(result_w, output_w, job_fd, status_w)
        _supervise(request["cfg"], child_mod, sandbox)
    finally:
        os._exit(0)


def _supervise(cfg: dict[str, Any], child_mod: Any, sandbox: Any) -> None:
    job_fd, status_fd = sandbox.JOB_FD, sandbox.STATUS_FD
    start = time.monotonic()
    pidns: bool | str = True
    try:
        sandbox.unshare(sandbox.CLONE_NEWPID)
    except OSError as exc:
        pidns = exc.strerror or str(exc)
    pid = os.fork()
    if pid == 0:
        try:
            child_mod.run_job(cfg)
        finally:
            os._exit(0)
    # The supervisor keeps no copy of the job's channels, so the parent sees EOF when the job ends.
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(sandbox.RESULT_FD)
    os.close(job_fd)
    pidfd = os.pidfd_open(pid)
    wall = float(cfg["limits"]["wall_seconds"])
    ready, _, _ = select.select([pidfd], [], [], wall)
    timed_out = not ready
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, wstatus, usage = os.wait4(pid, 0)
    status: dict[str, Any] = {
        "timed_out": timed_out,
        "exit": os.WEXITSTATUS(wstatus) if os.WIFEXITED(wstatus) else None,
        "signal": os.WTERMSIG(wstatus) if os.WIFSIGNALED(wstatus) else None,
        "cpu": usage.ru_utime + usage.ru_stime,
        "maxrss_kib": usage.ru_maxrss,
        "wall": time.monotonic() - start,
        "pidns": pidns,
    }
    os.write(status_fd, json.dumps(status).encode())


def _read_status(fd: int) -> dict[str, Any]:
    try:
        data = os.read(fd, 65536)
    finally:
        os.close(fd)
    try:
        status = json.loads(data) if data else {}
    except ValueError:
        status = {}
    return {"status": status} if status else {"error": "the supervisor died without a status"}


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _shutdown(jobs: dict[int, tuple[Any, int, int, float]]) -> None:
    for _, pid, _, _ in jobs.values():
        _kill(pid)
    for _, pid, _, _ in jobs.values():
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        sys.exit(0)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main(int(sys.argv[1]))
