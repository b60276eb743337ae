"""The warm zygote: a root process with numpy imported that forks the sandboxed job processes.

Process tree:  zygote (root) -> reaper (root; PID 1 of the job's PID namespace) -> job (sandbox uid)

A standby is forked ahead of time as PID 1 of a new PID namespace, inside the job's own cgroup
(see cgroups.py), and applies what does not depend on the job (IPC, UTS, mount and network
namespaces; the project and secret directories hidden). It then forks the job process, which warms
up the harness and waits for work, and stays behind as the job's **reaper**: a trusted PID 1 that
never runs untrusted code, reaps every process of the namespace, and reports the job process's exit
status to the zygote. A job request hands the waiting job process its channels; it applies the
job's own layers (private /tmp, rlimits, the uid switch, the seccomp filter, see seccomp.py) and
runs it, while the zygote forks a replacement standby.

The zygote is the wall clock and the CPU budget: at the deadline, or once the job's cgroup has used
its CPU seconds, it kills the whole cgroup (every task at once) and the reaper, and the kernel kills
whatever is left in the PID namespace, so orphans and double-forked daemons cannot outlive it. It
reports a job as done only once the reaper is reaped and the job's cgroup is empty (then removed),
so a uid is reused only once every process of its previous job is gone; a job that cannot be
emptied is never reported, and its uid never handed out again.

Each job has a network namespace of its own (no interfaces but a `lo` that stays down), made by its
standby before the job arrives, so nothing bound in one (an abstract Unix socket) is seen by the
next job. Before every fork the zygote drops the caches that hold sources and directory listings
(`linecache`, the import system's finders).

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
MAX_OPTIONS = 1 << 20
MAX_STANDBYS = 8
# How long a standby that failed to fork is not retried, so a fork failure does not spin the loop.
RESPAWN_DELAY = 0.2
# How often a reaped job whose cgroup still holds a task is killed and looked at again.
DRAIN_INTERVAL = 0.01
# How long a job whose results are complete ("end") has to exit by itself before it is killed.
END_GRACE = 0.02


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
    pid: int  # the reaper's
    pidfd: int
    sock: socket.socket
    pidns: bool | str
    cgroup: Any  # cgroups.Job, or None
    cgroup_error: str | None


@dataclass
class _Job:
    job_id: Any
    pid: int  # the reaper's
    pidfd: int
    uid: int
    started: float
    deadline: float
    pidns: bool | str
    sock: socket.socket  # the reaper reports the job process's exit status here
    cgroup: Any
    cpu_limit: float
    cpus: float  # the job's CPU quota
    cpu_check: float  # when the job's cgroup may first have used up its CPU seconds
    timed_out: bool = False
    ended: bool = False  # its results are complete: the parent asked for its end
    cpu_exceeded: bool = False
    reaped: dict[str, Any] | None = None  # set once the reaper is reaped
    recheck: float = 0.0  # when to look again at a cgroup that was not empty yet


class _Namespaces:
    """The zygote's own PID namespace, to come back to after forking into a new one."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.own_pid = _open_ns("pid")

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


def _open_ns(kind: str) -> int | None:
    try:
        return os.open(f"/proc/self/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


@dataclass
class _Layers:
    """What the zygote builds once for all jobs: the seccomp filter and the cgroup tree."""

    filter: Any
    filter_error: str | None
    tree: Any
    tree_error: str | None
    default_limits: dict[str, float]


def _build_layers(options: dict[str, Any]) -> _Layers:
    from grader import cgroups, seccomp

    filt = tree = None
    filter_error = tree_error = None
    try:
        filt = seccomp.build()
    except Exception as exc:
        filter_error = f"{type(exc).__name__}: {exc}"
    try:
        tree = cgroups.Tree.detect()
        tree.create()
    except OSError as exc:
        tree, tree_error = None, exc.strerror or str(exc)
    return _Layers(filt, filter_error, tree, tree_error, dict(options.get("limits") or {}))


def cache_mapped_files() -> None:
    """Read every file the zygote has mapped (the interpreter, numpy's and the system's libraries)
    into the page cache, whole. Jobs inherit these mappings and can touch any of their pages:
    without this, the first touch of a page not cached yet would cache it, which a later job can
    tell from its own page faults, a channel from one job to the next (a hidden run's inputs to a
    student's next visible run). With every page cached, touching one changes nothing."""
    import mmap  # first: its own library is one of the files

    paths = set()
    with contextlib.suppress(OSError), open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].startswith("/"):
                paths.add(fields[5].rstrip("\n"))
    for path in sorted(paths):
        with contextlib.suppress(OSError, ValueError):
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                _cache_whole(mmap, fd)
            finally:
                os.close(fd)
    # Not for the jobs: they cannot import what the zygote did not leave in sys.modules.
    sys.modules.pop("mmap", None)


MADV_POPULATE_READ = 22  # Linux 5.14: fault every page in, without copying it anywhere


def _cache_whole(mmap: Any, fd: int) -> None:
    size = os.fstat(fd).st_size
    if not size:
        return
    try:
        with mmap.mmap(fd, size, prot=mmap.PROT_READ) as view:
            view.madvise(MADV_POPULATE_READ)
    except OSError:  # an older kernel: read it through
        buffer = bytearray(1 << 20)
        while os.readv(fd, [buffer]) > 0:
            pass


def forget_caches() -> None:
    """Drop what would show a job the harness's sources or the directories the zygote imported
    from: each forked process starts with these caches empty."""
    import importlib
    import linecache
    import zipimport

    linecache.clearcache()
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    zipimport._zip_directory_cache.clear()  # type: ignore[attr-defined]
    # The zygote's command line (its boot code) is nothing a job needs.
    sys.argv[:] = sys.argv[:1]
    sys.orig_argv[:] = sys.orig_argv[:1]


def main(control_fd: int) -> None:
    """Serve jobs on `control_fd`, whose first message holds the options (a JSON object)."""
    sock = socket.socket(fileno=control_fd)
    sock.setblocking(True)
    options = json.loads(sock.recv(MAX_OPTIONS) or b"{}")
    hide: list[str] = list(options.get("hide", []))
    tmp_kib = int(options.get("tmp_kib", 16 * 1024))
    want = max(1, min(MAX_STANDBYS, int(options.get("standbys", 1))))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.chdir("/")
    preload()
    from grader import _child, sandbox

    layers = _build_layers(options)
    # Held only here and by the frames below: nothing a submission can reach refers to it.
    harness = _child.sealed()
    cache_mapped_files()
    ns = _Namespaces(sandbox)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, None)
    standbys: list[_Standby] = []
    jobs: dict[int, _Job] = {}  # by the pidfd of the job's reaper
    draining: list[_Job] = []  # reaped, but their cgroup is not empty yet
    busy_uids: set[int] = set()
    respawn_at = 0.0
    # Everything imported so far lives as long as the zygote: keep the collector (in the zygote and
    # every forked process) from walking it, and from touching its pages after a fork.
    gc.collect()
    gc.freeze()
    _send(sock, {"ready": True, "pid": os.getpid(), "euid": os.geteuid()})

    def spawn() -> _Standby | None:
        nonlocal respawn_at
        standby = _spawn(ns, hide, tmp_kib, harness, sandbox, layers)
        if standby is None:
            respawn_at = time.monotonic() + RESPAWN_DELAY
        else:
            sel.register(standby.pidfd, selectors.EVENT_READ, standby)
        return standby

    def finish(job: _Job) -> None:
        """Report a reaped job once its cgroup is empty; until then keep killing what is left."""
        if job.cgroup is not None and not job.cgroup.empty():
            job.cgroup.kill()
            job.recheck = time.monotonic() + DRAIN_INTERVAL
            if job not in draining:
                draining.append(job)
            return
        if job in draining:
            draining.remove(job)
        status = job.reaped or {}
        if job.cgroup is not None:
            status.update(_cgroup_usage(job.cgroup))
            job.cgroup.remove()
        status["cpu_exceeded"] = job.cpu_exceeded
        busy_uids.discard(job.uid)
        _send(sock, {"job": job.job_id, "status": status})

    try:
        while True:
            while len(standbys) < want and time.monotonic() >= respawn_at:
                standby = spawn()
                if standby is None:
                    break
                standbys.append(standby)
            now = time.monotonic()
            waits = [j.deadline - now for j in jobs.values() if not j.timed_out]
            waits += [j.cpu_check - now for j in jobs.values() if not j.timed_out]
            waits += [j.recheck - now for j in draining]
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
                        return
                    request = json.loads(msg)
                    if request.get("op") == "exit":
                        for fd in fds:
                            os.close(fd)
                        return
                    if request.get("op") == "end":
                        for fd in fds:
                            os.close(fd)
                        _end(jobs.values(), request.get("job"))
                        continue
                    try:
                        job = _dispatch(request, fds, standbys, busy_uids, spawn, sandbox)
                    finally:
                        for fd in fds:
                            os.close(fd)
                    if isinstance(job, str):
                        _send(sock, {"job": request.get("job"), "error": job})
                        continue
                    jobs[job.pidfd] = job
                    sel.modify(job.pidfd, selectors.EVENT_READ, job)
                elif isinstance(key.data, _Standby):
                    # A standby died before it ran a job: forget it; a new one is forked above,
                    # after a pause so that a standby that cannot start does not spin the zygote.
                    standby = key.data
                    respawn_at = time.monotonic() + RESPAWN_DELAY
                    sel.unregister(standby.pidfd)
                    os.close(standby.pidfd)
                    standby.sock.close()
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(standby.pid, 0)
                    if standby.cgroup is not None:
                        standby.cgroup.kill()
                        standby.cgroup.remove()
                    if standby in standbys:
                        standbys.remove(standby)
                else:
                    pidfd = key.fd
                    job = jobs.pop(pidfd)
                    sel.unregister(pidfd)
                    os.close(pidfd)
                    job.reaped = _reap(job)
                    finish(job)
            now = time.monotonic()
            for job in jobs.values():
                if job.timed_out:
                    continue
                if now >= job.deadline:
                    job.timed_out = True
                    _kill_job(job)
                elif now >= job.cpu_check:
                    _check_cpu(job, now)
            for job in [j for j in draining if now >= j.recheck]:
                finish(job)
    finally:
        _shutdown(jobs, draining, standbys, layers)


def _reap(job: _Job) -> dict[str, Any]:
    """The job's status once its reaper is gone: the job process's own exit status as the reaper
    reported it, or, when the reaper itself was killed (the deadline), the reaper's."""
    _, wstatus, usage = os.wait4(job.pid, 0)
    status: dict[str, Any] = {
        "timed_out": job.timed_out and not job.ended,
        "exit": os.WEXITSTATUS(wstatus) if os.WIFEXITED(wstatus) else None,
        "signal": os.WTERMSIG(wstatus) if os.WIFSIGNALED(wstatus) else None,
        "cpu": usage.ru_utime + usage.ru_stime,
        "maxrss_kib": usage.ru_maxrss,
        "wall": time.monotonic() - job.started,
        "pidns": job.pidns,
    }
    try:
        job.sock.setblocking(False)
        report = json.loads(job.sock.recv(MAX_MESSAGE))
        if os.WIFEXITED(wstatus) and os.WEXITSTATUS(wstatus) == 0:
            status["exit"], status["signal"] = report["exit"], report["signal"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    job.sock.close()
    return status


def _cgroup_usage(cgroup: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"oom": cgroup.oom_kills() > 0}
    cpu = cgroup.cpu_seconds()
    if cpu is not None:
        found["cpu"] = cpu
    peak = cgroup.memory_peak()
    if peak is not None:
        found["memory_peak_kib"] = peak // 1024
    return found


def _end(jobs: Any, job_id: Any) -> None:
    """The parent has a job's complete results: whatever of it has not exited by END_GRACE from
    now is killed (a job has nothing left to do once it reported DONE; one that lingers on, say
    spinning after closing its channels, would hold its uid and take CPU from the next jobs)."""
    for job in jobs:
        if job.job_id == job_id and not job.timed_out:
            job.ended = True
            job.deadline = min(job.deadline, time.monotonic() + END_GRACE)


def _check_cpu(job: _Job, now: float) -> None:
    """Kill the job once all its processes together used its CPU seconds; else look again when
    they could have, at the earliest (the job's CPU quota bounds how fast they use it)."""
    used = job.cgroup.cpu_seconds() if job.cgroup is not None else None
    if used is None:
        job.cpu_check = float("inf")
    elif used >= job.cpu_limit:
        job.cpu_exceeded = True
        _kill_job(job)
        job.cpu_check = float("inf")
    else:
        job.cpu_check = now + max(0.02, (job.cpu_limit - used) / job.cpus)


def _kill_job(job: _Job) -> None:
    # Every task of the job's cgroup at once, then its reaper (PID 1 of its namespace: the kernel
    # kills the rest of it). Without a PID namespace, its process group (the standby made itself a
    # session leader).
    if job.cgroup is not None:
        with contextlib.suppress(OSError):
            job.cgroup.kill()
    _kill(job.pid, group=job.pidns is not True)


def _dispatch(
    request: dict[str, Any],
    fds: list[int],
    standbys: list[_Standby],
    busy_uids: set[int],
    spawn: Any,
    sandbox: Any,
) -> _Job | str:
    """Hand a job to a standby: the running job, or an error text if it cannot run."""
    cfg = request["cfg"]
    uid = int(cfg["uid"])
    if len(fds) != 3:
        return "bad request"
    if uid in busy_uids:
        # A uid's processes must never belong to two jobs.
        return f"uid {uid} still has a live job"
    standby = standbys.pop(0) if standbys else spawn()
    if standby is None:
        return "fork failed"
    limits = cfg["limits"]
    cgroup_layer: bool | str = standby.cgroup_error or True
    if standby.cgroup is not None:
        try:
            standby.cgroup.limit(*sandbox.cgroup_limits(limits))
            standby.cgroup.set_idle(False)
            standby.cgroup.mark_start()
        except OSError as exc:
            cgroup_layer = f"cgroup limits: {exc.strerror or exc}"
    message = json.dumps({"cfg": cfg, "cgroup": cgroup_layer}).encode()
    # The standby prepared at idle priority; its job runs at a normal one (the job process, if
    # still warming up, too: every task in its cgroup).
    for pid in {standby.pid, *(standby.cgroup.pids() if standby.cgroup is not None else ())}:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
    try:
        socket.send_fds(standby.sock, [message], fds)
    except OSError:
        _kill(standby.pid)  # reaped through its pidfd, as a dead standby
        return "the standby process is gone"
    started = time.monotonic()
    busy_uids.add(uid)
    cpu_limit = float(limits["cpu_seconds"])
    return _Job(
        request.get("job"),
        standby.pid,
        standby.pidfd,
        uid,
        started,
        started + float(limits["wall_seconds"]),
        standby.pidns,
        standby.sock,
        standby.cgroup,
        cpu_limit,
        sandbox.JOB_CPUS,
        started + cpu_limit / sandbox.JOB_CPUS,
    )


def _spawn(
    ns: _Namespaces, hide: list[str], tmp_kib: int, child_mod: Any, sandbox: Any, layers: _Layers
) -> _Standby | None:
    cgroup, cgroup_error = None, layers.tree_error
    if layers.tree is not None:
        cgroup = layers.tree.job()
        try:
            # The usual limits; a job with others changes them when it arrives.
            cgroup.create(*sandbox.cgroup_limits(layers.default_limits or {"memory_mib": 512}))
            cgroup.set_idle(True)
        except OSError as exc:
            cgroup.remove()
            cgroup, cgroup_error = None, f"cgroup: {exc.strerror or exc}"
    forget_caches()
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pidns = ns.unshare_pid()
    try:
        pid = os.fork()
    except OSError:
        parent_sock.close()
        child_sock.close()
        if pidns is True:
            ns.restore_pid()
        if cgroup is not None:
            cgroup.remove()
        return None
    if pid == 0:
        # --- standby, then reaper (root; PID 1 of its namespace) ---
        try:
            parent_sock.close()
            _standby(child_sock.detach(), hide, tmp_kib, child_mod, sandbox, layers, cgroup)
        finally:
            os._exit(0)
    if pidns is True:
        ns.restore_pid()
    child_sock.close()
    return _Standby(pid, os.pidfd_open(pid), parent_sock, pidns, cgroup, cgroup_error)


def _standby(
    sock_fd: int,
    hide: list[str],
    tmp_kib: int,
    child_mod: Any,
    sandbox: Any,
    layers: _Layers,
    cgroup: Any,
) -> None:
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
    joined: bool | str = layers.tree_error or "no cgroup"
    if cgroup is not None:
        # First of all, so that everything this process and its children use is the job's.
        try:
            cgroup.join()
            joined = True
        except OSError as exc:
            joined = f"cgroup: {exc.strerror or exc}"
    # Preparing runs only on otherwise idle CPUs, never slowing a running job or the grader; the
    # zygote gives the standby a normal priority again when it hands it a job (for which it needs
    # to be root: without, the standby keeps its normal priority).
    if os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    prepared = sandbox.prepare(hide, tmp_kib, in_cgroup=joined is True)
    view = prepared.pop("cgroup_view", True)
    # A job that could see the other jobs' cgroups does not have the cgroup layer.
    prepared["cgroup"] = joined if view is True else f"cgroup view: {view}"
    prepared["seccomp"] = layers.filter_error or True
    if os.getpid() != 1:
        # Without a PID namespace, orphans still come to the reaper rather than to init.
        with contextlib.suppress(OSError):
            sandbox.prctl(sandbox.PR_SET_CHILD_SUBREAPER, 1)
    try:
        job_pid = os.fork()
    except OSError:
        return
    if job_pid == 0:
        # --- the job process: warms up, waits for the job, runs it as the sandbox user ---
        try:
            _job(sock_fd, prepared, child_mod, sandbox, layers.filter)
        finally:
            os._exit(0)
    # --- the reaper: never runs untrusted code; it only waits ---
    _reaper(sock_fd, job_pid)


def _reaper(sock_fd: int, job_pid: int) -> None:
    """Reap every process that ends in this PID namespace until the job process itself has ended,
    report its exit status, and exit: the kernel then kills whatever else is left in it."""
    status = 0
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid == job_pid:
            break
    report = {
        "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
    }
    with contextlib.suppress(OSError):
        os.write(sock_fd, json.dumps(report).encode())


def _job(sock_fd: int, prepared: dict[str, Any], child_mod: Any, sandbox: Any, filt: Any) -> None:
    child_mod.warm_up()
    gc.collect()
    sock = socket.socket(fileno=sock_fd)
    try:
        msg, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 4)
    except OSError:
        return
    sock.close()  # the reaper's channel to the zygote: never in reach of the job
    if not msg or len(fds) < 3:
        return  # the zygote is shutting down
    with contextlib.suppress(OSError):
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    request = json.loads(msg)
    if prepared.get("cgroup") is True:
        prepared["cgroup"] = request.get("cgroup", True)
    job_fd, result_w, output_w = fds[:3]
    sandbox.redirect_fds(result_w, output_w, job_fd)
    child_mod.run_job(request["cfg"], prepared, filt)


def _kill(pid: int, group: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _shutdown(
    jobs: dict[int, _Job], draining: list[_Job], standbys: list[_Standby], layers: _Layers
) -> None:
    for job in jobs.values():
        _kill_job(job)
    for standby in standbys:
        if standby.cgroup is not None:
            with contextlib.suppress(OSError):
                standby.cgroup.kill()
        _kill(standby.pid)
    for pid in [job.pid for job in jobs.values()] + [s.pid for s in standbys]:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    if layers.tree is not None:
        # Every job cgroup, emptied first; then the zygote's own directory.
        layers.tree.remove()


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        sys.exit(0)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main(int(sys.argv[1]))
