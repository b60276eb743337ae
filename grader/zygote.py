"""The warm zygote: a root process with numpy imported that forks the sandboxed job processes.

Process tree:  zygote (root) -> standby, which becomes the job (the same process)

A standby is forked ahead of time as PID 1 of a new PID namespace, and applies what does not depend
on the job (IPC, UTS and mount namespaces; the project and secret directories hidden) while the
zygote waits for work. A job request hands the next standby its channels and the network namespace
of the slot's uid; the standby then applies the job's own layers (network namespace, private /tmp,
rlimits, the uid switch) and runs it, while the zygote forks a replacement standby.

The zygote is the wall clock: at the deadline it SIGKILLs the job's PID 1, and the kernel kills
everything else in that PID namespace, so orphans and double-forked daemons cannot outlive it. It
reaps the job (wait4 gives CPU time and peak memory) and only then reports the job as done, so a
uid is reused only once every process of its previous job is gone.

Each slot uid has one network namespace, created once by the zygote and entered by every job of
that uid with setns(): it has no interfaces but a `lo` that stays down, holds nothing once its
processes are gone (sockets die with them), and the zygote refuses a job for a uid whose previous
job is still alive, so two jobs never share it at the same time. (A new network namespace per job
cost about a millisecond of each job's start, and more kernel work to destroy it afterwards.)

The zygote never reads job contents (sources, test inputs): they travel in a memfd straight to the
job process, so nothing lingers in the zygote's heap that a later job could find in its inherited
memory.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import select
import selectors
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE = 65536
MAX_STANDBYS = 8
MAX_NETNS = 256
# How long a standby that failed to fork is not retried, so a fork failure does not spin the loop.
RESPAWN_DELAY = 0.2


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
    import inspect

    from grader import _child, sandbox, values  # noqa: F401

    # The harness's own first-call costs (signature binding, encoding) are paid here, once.
    inspect.signature(preload).bind()
    values.encode([np.float64(1.0), np.zeros(2), (1, {"a": None})], [])


@dataclass
class _Standby:
    pid: int
    pidfd: int
    sock: socket.socket
    pidns: bool | str


@dataclass
class _Job:
    job_id: Any
    pid: int
    pidfd: int
    uid: int
    started: float
    deadline: float
    pidns: bool | str
    timed_out: bool = False


class _Namespaces:
    """The zygote's own PID and network namespaces, and one network namespace per slot uid."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.own_pid = _open_ns("pid")
        self.own_net = _open_ns("net")
        self.net: dict[int, int] = {}

    def unshare_pid(self) -> bool | str:
        """The next fork starts a new PID namespace (the child is its PID 1)."""
        try:
            self.sandbox.unshare(self.sandbox.CLONE_NEWPID)
        except OSError as exc:
            return exc.strerror or str(exc)
        return True

    def restore_pid(self) -> None:
        # Later forks of the zygote itself must not land in that namespace; if this fails the
        # zygote cannot go on safely (the engine starts a new one).
        if self.own_pid is None:
            raise OSError("no handle on the zygote's PID namespace")
        self.sandbox.setns(self.own_pid, self.sandbox.CLONE_NEWPID)

    def netns_for(self, uid: int) -> tuple[int | None, bool]:
        """(fd of this uid's network namespace, whether the caller must close it), or (None, False)
        when none can be made (the job then tries to unshare its own and reports the result)."""
        fd = self.net.get(uid)
        if fd is not None:
            return fd, False
        if self.own_net is None:
            return None, False
        try:
            self.sandbox.unshare(self.sandbox.CLONE_NEWNET)
        except OSError:
            return None, False
        try:
            fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            self.sandbox.setns(self.own_net, self.sandbox.CLONE_NEWNET)
        if len(self.net) >= MAX_NETNS:
            return fd, True
        self.net[uid] = fd
        return fd, False


def _open_ns(kind: str) -> int | None:
    try:
        return os.open(f"/proc/self/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def main(control_fd: int, boot: str = "{}") -> None:
    options = json.loads(boot)
    hide: list[str] = list(options.get("hide", []))
    tmp_kib = int(options.get("tmp_kib", 16 * 1024))
    want = max(1, min(MAX_STANDBYS, int(options.get("standbys", 1))))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.chdir("/")
    preload()
    from grader import _child, sandbox

    ns = _Namespaces(sandbox)
    sock = socket.socket(fileno=control_fd)
    sock.setblocking(True)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, None)
    standbys: list[_Standby] = []
    jobs: dict[int, _Job] = {}  # by the pidfd of the job's process
    busy_uids: set[int] = set()
    respawn_at = 0.0
    # Everything imported so far lives as long as the zygote: keep the collector (in the zygote and
    # every forked process) from walking it, and from touching its pages after a fork.
    gc.collect()
    gc.freeze()
    _send(sock, {"ready": True, "pid": os.getpid(), "euid": os.geteuid()})

    def spawn() -> _Standby | None:
        nonlocal respawn_at
        standby = _spawn(ns, hide, tmp_kib, _child, sandbox)
        if standby is None:
            respawn_at = time.monotonic() + RESPAWN_DELAY
        else:
            sel.register(standby.pidfd, selectors.EVENT_READ, standby)
        return standby

    while True:
        while len(standbys) < want and time.monotonic() >= respawn_at:
            standby = spawn()
            if standby is None:
                break
            standbys.append(standby)
        now = time.monotonic()
        waits = [j.deadline - now for j in jobs.values() if not j.timed_out]
        if len(standbys) < want:
            waits.append(respawn_at - now)
        timeout = max(0.0, min(waits)) if waits else None
        for key, _ in sel.select(timeout):
            if key.data is None:
                try:
                    msg, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 4)
                except OSError:
                    msg, fds = b"", []
                if not msg:
                    _shutdown(jobs, standbys)
                    return
                request = json.loads(msg)
                if request.get("op") == "exit":
                    for fd in fds:
                        os.close(fd)
                    _shutdown(jobs, standbys)
                    return
                try:
                    job = _dispatch(request, fds, standbys, busy_uids, ns, spawn)
                finally:
                    for fd in fds:
                        os.close(fd)
                if isinstance(job, str):
                    _send(sock, {"job": request.get("job"), "error": job})
                    continue
                jobs[job.pidfd] = job
                sel.modify(job.pidfd, selectors.EVENT_READ, job)
            elif isinstance(key.data, _Standby):
                # A standby died before it ran a job: forget it; a new one is forked above, after a
                # pause so that a standby that cannot start does not spin the zygote.
                standby = key.data
                respawn_at = time.monotonic() + RESPAWN_DELAY
                sel.unregister(standby.pidfd)
                os.close(standby.pidfd)
                standby.sock.close()
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(standby.pid, 0)
                if standby in standbys:
                    standbys.remove(standby)
            else:
                pidfd = key.fd
                job = jobs.pop(pidfd)
                sel.unregister(pidfd)
                os.close(pidfd)
                _, wstatus, usage = os.wait4(job.pid, 0)
                busy_uids.discard(job.uid)
                status = {
                    "timed_out": job.timed_out,
                    "exit": os.WEXITSTATUS(wstatus) if os.WIFEXITED(wstatus) else None,
                    "signal": os.WTERMSIG(wstatus) if os.WIFSIGNALED(wstatus) else None,
                    "cpu": usage.ru_utime + usage.ru_stime,
                    "maxrss_kib": usage.ru_maxrss,
                    "wall": time.monotonic() - job.started,
                    "pidns": job.pidns,
                }
                _send(sock, {"job": job.job_id, "status": status})
        now = time.monotonic()
        for job in jobs.values():
            if not job.timed_out and now >= job.deadline:
                # PID 1 of the job's namespace: the kernel kills the rest of it. Without a PID
                # namespace, its process group (the standby made itself a session leader).
                job.timed_out = True
                _kill(job.pid, group=job.pidns is not True)


def _dispatch(
    request: dict[str, Any],
    fds: list[int],
    standbys: list[_Standby],
    busy_uids: set[int],
    ns: _Namespaces,
    spawn: Any,
) -> _Job | str:
    """Hand a job to a standby: the running job, or an error text if it cannot run."""
    cfg = request["cfg"]
    uid = int(cfg["uid"])
    if len(fds) != 3:
        return "bad request"
    if uid in busy_uids:
        # The uid's network namespace (and its processes) must never be shared by two jobs.
        return f"uid {uid} still has a live job"
    standby = standbys.pop(0) if standbys else spawn()
    if standby is None:
        return "fork failed"
    netns, owned = ns.netns_for(uid)
    message = json.dumps({"cfg": cfg, "netns": netns is not None}).encode()
    with contextlib.suppress(OSError):
        os.sched_setscheduler(standby.pid, os.SCHED_OTHER, os.sched_param(0))
    try:
        socket.send_fds(standby.sock, [message], fds + ([netns] if netns is not None else []))
    except OSError:
        _kill(standby.pid)  # reaped through its pidfd, as a dead standby
        return "the standby process is gone"
    finally:
        standby.sock.close()
        if owned and netns is not None:
            os.close(netns)
    started = time.monotonic()
    busy_uids.add(uid)
    return _Job(
        request.get("job"),
        standby.pid,
        standby.pidfd,
        uid,
        started,
        started + float(cfg["limits"]["wall_seconds"]),
        standby.pidns,
    )


def _spawn(
    ns: _Namespaces, hide: list[str], tmp_kib: int, child_mod: Any, sandbox: Any
) -> _Standby | None:
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pidns = ns.unshare_pid()
    try:
        pid = os.fork()
    except OSError:
        parent_sock.close()
        child_sock.close()
        if pidns is True:
            ns.restore_pid()
        return None
    if pid == 0:
        # --- standby (root; PID 1 of its namespace) ---
        try:
            parent_sock.close()
            _standby(child_sock.detach(), hide, tmp_kib, child_mod, sandbox)
        finally:
            os._exit(0)
    if pidns is True:
        ns.restore_pid()
    child_sock.close()
    return _Standby(pid, os.pidfd_open(pid), parent_sock, pidns)


def _standby(sock_fd: int, hide: list[str], tmp_kib: int, child_mod: Any, sandbox: Any) -> None:
    sandbox.set_pdeathsig()
    # If the zygote died before that line, no signal comes; its end of the socket is closed then
    # (getppid() cannot tell: PID 1 of a new namespace always sees 0).
    poll = select.poll()
    poll.register(sock_fd, select.POLLIN)
    events = poll.poll(0)
    # A hang-up with a job waiting is no death: the zygote closes its end once it sent the job,
    # which it may do before this fresh standby even ran this far.
    if events and not events[0][1] & select.POLLIN:
        return
    # Nothing of the zygote's (its control socket, other standbys', the namespace handles) stays,
    # so the engine sees the zygote's socket close when the zygote dies.
    os.closerange(3, sock_fd)
    os.closerange(sock_fd + 1, 65536)
    os.setsid()
    # Preparing runs only on otherwise idle CPUs, never slowing a running job or the grader; the
    # zygote gives the standby a normal priority again when it hands it a job (for which it needs
    # to be root: without, the standby keeps its normal priority).
    if os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    prepared = sandbox.prepare(hide, tmp_kib)
    child_mod.warm_up()
    gc.collect()
    sock = socket.socket(fileno=sock_fd)
    try:
        msg, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 4)
    except OSError:
        return
    sock.close()
    if not msg:
        return  # the zygote is shutting down
    if len(fds) < 3:
        return
    request = json.loads(msg)
    netns = fds[3] if request.get("netns") and len(fds) == 4 else None
    job_fd, result_w, output_w = fds[:3]
    sandbox.redirect_fds(result_w, output_w, job_fd, netns)
    child_mod.run_job(request["cfg"], prepared, sandbox.NETNS_FD if netns is not None else None)


def _kill(pid: int, group: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _shutdown(jobs: dict[int, _Job], standbys: list[_Standby]) -> None:
    pids = [job.pid for job in jobs.values()] + [s.pid for s in standbys]
    for pid in pids:
        _kill(pid)
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        sys.exit(0)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "{}")
